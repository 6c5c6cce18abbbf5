"""The policy types ELB has (DescribeLoadBalancerPolicyTypes, as AWS lists them), its predefined
SSL negotiation policies, and the checks a policy's attributes must pass for its type."""

from __future__ import annotations

from dataclasses import dataclass

from mallee.services.elb import errors

PROXY_PROTOCOL = "ProxyProtocolPolicyType"
LB_COOKIE = "LBCookieStickinessPolicyType"
APP_COOKIE = "AppCookieStickinessPolicyType"
SSL_NEGOTIATION = "SSLNegotiationPolicyType"
BACKEND_AUTH = "BackendServerAuthenticationPolicyType"
PUBLIC_KEY = "PublicKeyPolicyType"


@dataclass(frozen=True, slots=True)
class AttributeType:
    name: str
    # Boolean | Long | String | PolicyName
    kind: str
    description: str
    cardinality: str
    default: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyType:
    name: str
    description: str
    attributes: tuple[AttributeType, ...]

    def attribute(self, name: str) -> AttributeType | None:
        return next((a for a in self.attributes if a.name == name), None)


_PROTOCOLS = (
    "Protocol-SSLv2",
    "Protocol-SSLv3",
    "Protocol-TLSv1",
    "Protocol-TLSv1.1",
    "Protocol-TLSv1.2",
)
# OpenSSL names of the ciphers AWS's SSL negotiation policies may enable.
CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES128-SHA256",
    "AES128-SHA",
    "AES256-GCM-SHA384",
    "AES256-SHA256",
    "AES256-SHA",
    "DHE-RSA-AES128-SHA",
    "DHE-DSS-AES128-SHA",
    "DES-CBC3-SHA",
)


def _boolean(name: str, description: str) -> AttributeType:
    return AttributeType(name, "Boolean", description, "ZERO_OR_ONE")


TYPES: tuple[PolicyType, ...] = (
    PolicyType(
        PROXY_PROTOCOL,
        "Policy that controls whether to include the IP address and port of the originating "
        "request for TCP messages. This policy operates on TCP listeners only.",
        (AttributeType("ProxyProtocol", "Boolean", "", "ONE"),),
    ),
    PolicyType(
        BACKEND_AUTH,
        "Policy that controls authentication to back-end server(s) and contains one or more "
        "policies, such as an instance of a PublicKeyPolicyType. This policy can be associated "
        "only with back-end servers that are using HTTPS/SSL.",
        (AttributeType("PublicKeyPolicyName", "PolicyName", "", "ONE_OR_MORE"),),
    ),
    PolicyType(
        PUBLIC_KEY,
        "Policy containing a list of public keys to accept when authenticating the back-end "
        "server(s). This policy cannot be applied directly to back-end servers or listeners but "
        "must be part of a BackendServerAuthenticationPolicyType.",
        (AttributeType("PublicKey", "String", "", "ONE"),),
    ),
    PolicyType(
        LB_COOKIE,
        "Stickiness policy with session lifetimes controlled by the browser (user-agent) or a "
        "specified expiration period. This policy can be associated only with HTTP/HTTPS "
        "listeners.",
        (
            AttributeType(
                "CookieExpirationPeriod",
                "Long",
                "The time period, in seconds, after which the cookie should be considered "
                "stale. If this parameter isn't specified, the sticky session will last for the "
                "duration of the browser session.",
                "ZERO_OR_ONE",
            ),
        ),
    ),
    PolicyType(
        APP_COOKIE,
        "Stickiness policy with session lifetimes controlled by the lifetime of the "
        "application-generated cookie. This policy can be associated only with HTTP/HTTPS "
        "listeners.",
        (
            AttributeType(
                "CookieName",
                "String",
                "The name of the application cookie used for stickiness.",
                "ONE",
            ),
        ),
    ),
    PolicyType(
        SSL_NEGOTIATION,
        "Listener policy that defines the ciphers and protocols that will be accepted by the "
        "load balancer. This policy can be associated only with HTTPS/SSL listeners.",
        (
            AttributeType(
                "Reference-Security-Policy",
                "String",
                "The name of a predefined security policy whose protocols and ciphers this "
                "policy takes.",
                "ZERO_OR_ONE",
            ),
            *(_boolean(p, "") for p in _PROTOCOLS),
            _boolean(
                "Server-Defined-Cipher-Order",
                "Use the order of ciphers in this policy rather than the client's.",
            ),
            *(_boolean(c, "") for c in CIPHERS),
        ),
    ),
)
BY_NAME = {t.name: t for t in TYPES}

_MODERN = CIPHERS[:12] + CIPHERS[12:18]
# Predefined SSL negotiation policies (DescribeLoadBalancerPolicies without a load balancer).
PREDEFINED: dict[str, list[tuple[str, str]]] = {
    "ELBSecurityPolicy-2016-08": [
        ("Protocol-TLSv1", "true"),
        ("Protocol-TLSv1.1", "true"),
        ("Protocol-TLSv1.2", "true"),
        ("Server-Defined-Cipher-Order", "true"),
        *((c, "true") for c in _MODERN),
    ],
    "ELBSecurityPolicy-TLS-1-1-2017-01": [
        ("Protocol-TLSv1.1", "true"),
        ("Protocol-TLSv1.2", "true"),
        ("Server-Defined-Cipher-Order", "true"),
        *((c, "true") for c in _MODERN),
    ],
    "ELBSecurityPolicy-TLS-1-2-2017-01": [
        ("Protocol-TLSv1.2", "true"),
        ("Server-Defined-Cipher-Order", "true"),
        *((c, "true") for c in _MODERN if "GCM" in c or "SHA256" in c or "SHA384" in c),
    ],
}


def check_attributes(
    policy_type: PolicyType, pairs: list[tuple[str, str]], existing_policies: dict[str, str]
) -> None:
    """The attributes fit the type: known names, values of their kind, and each attribute as
    many times as its cardinality allows. `existing_policies` maps the load balancer's policy
    names to their types (PolicyName attributes must name a PublicKeyPolicyType one)."""
    counts: dict[str, int] = {}
    for name, value in pairs:
        attribute = policy_type.attribute(name)
        if attribute is None:
            raise errors.invalid_configuration(
                f"Attribute {name} is not valid for policy type {policy_type.name}"
            )
        counts[name] = counts.get(name, 0) + 1
        _check_value(attribute, value, existing_policies)
    for attribute in policy_type.attributes:
        n = counts.get(attribute.name, 0)
        if attribute.cardinality in ("ONE", "ONE_OR_MORE") and n == 0:
            raise errors.invalid_configuration(
                f"Attribute {attribute.name} is required for policy type {policy_type.name}"
            )
        if attribute.cardinality in ("ONE", "ZERO_OR_ONE") and n > 1:
            raise errors.invalid_configuration(
                f"Attribute {attribute.name} may be given only once for {policy_type.name}"
            )


def _check_value(attribute: AttributeType, value: str, existing: dict[str, str]) -> None:
    name = attribute.name
    if attribute.kind == "Boolean" and value.lower() not in ("true", "false"):
        raise errors.invalid_configuration(f"Attribute {name} must be true or false: {value}")
    if attribute.kind == "Long" and not (value.isdigit() and int(value) > 0):
        raise errors.invalid_configuration(f"Attribute {name} must be a positive integer")
    if attribute.kind == "String" and not value:
        raise errors.invalid_configuration(f"Attribute {name} must not be empty")
    if attribute.kind == "PolicyName" and existing.get(value) != PUBLIC_KEY:
        raise errors.policy_not_found(f"There is no PublicKeyPolicyType policy named {value}")
    if name == "Reference-Security-Policy" and value not in PREDEFINED:
        raise errors.invalid_configuration(f"There is no predefined security policy {value}")
