"""Every error ELB answers with, by the code and status AWS gives it (the model's exceptions)."""

from __future__ import annotations

from mallee.api.errors import ServiceError


def lb_not_found(name: str) -> ServiceError:
    return ServiceError(
        "LoadBalancerNotFound", f"There is no ACTIVE Load Balancer named '{name}'", 400
    )


def duplicate_name(name: str) -> ServiceError:
    return ServiceError(
        "DuplicateLoadBalancerName",
        f"The specified load balancer name already exists for this account: {name}",
        400,
    )


def duplicate_listener(name: str, port: int) -> ServiceError:
    return ServiceError(
        "DuplicateListener",
        f"A listener already exists for {name} with LoadBalancerPort {port}, but with a "
        "different InstancePort, Protocol, or SSLCertificateId",
        400,
    )


def listener_not_found(name: str, port: int) -> ServiceError:
    return ServiceError(
        "ListenerNotFound", f"There is no listener with port {port} on load balancer {name}", 400
    )


def invalid_instance(message: str) -> ServiceError:
    return ServiceError("InvalidInstance", message, 400)


def policy_not_found(message: str) -> ServiceError:
    return ServiceError("PolicyNotFound", message, 400)


def duplicate_policy(name: str) -> ServiceError:
    return ServiceError(
        "DuplicatePolicyName", f"Policy with the same name {name} exists for this LoadBalancer", 400
    )


def too_many_policies() -> ServiceError:
    return ServiceError(
        "TooManyPolicies", "The quota for the number of policies has been reached.", 400
    )


def policy_type_not_found(name: str) -> ServiceError:
    return ServiceError("PolicyTypeNotFound", f"There is no policy type named '{name}'", 400)


def invalid_configuration(message: str) -> ServiceError:
    return ServiceError("InvalidConfigurationRequest", message, 409)


def certificate_not_found(arn: str) -> ServiceError:
    return ServiceError("CertificateNotFound", f"Supplied certificate was not found: {arn}", 400)


def too_many_load_balancers(limit: int) -> ServiceError:
    return ServiceError(
        "TooManyLoadBalancers", f"Exceeded quota of account: at most {limit} load balancers", 400
    )


def too_many_tags(limit: int) -> ServiceError:
    return ServiceError(
        "TooManyTags",
        f"The quota for the number of tags that can be assigned to a load balancer has been "
        f"reached: {limit}",
        400,
    )


def duplicate_tag_keys(key: str) -> ServiceError:
    return ServiceError("DuplicateTagKeys", f"Tag key was specified more than once: {key}", 400)


def invalid_security_group(message: str) -> ServiceError:
    return ServiceError("InvalidSecurityGroup", message, 400)


def invalid_subnet(message: str) -> ServiceError:
    return ServiceError("InvalidSubnet", message, 400)


def subnet_not_found(message: str) -> ServiceError:
    return ServiceError("SubnetNotFound", message, 400)


def invalid_scheme(message: str) -> ServiceError:
    return ServiceError("InvalidScheme", message, 400)


def unsupported_protocol(message: str) -> ServiceError:
    return ServiceError("UnsupportedProtocol", message, 400)


def attribute_not_found(message: str) -> ServiceError:
    return ServiceError("LoadBalancerAttributeNotFound", message, 400)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)
