"""The cloud's DNS names, in Eucalyptus' forms, shared by the API (which shows them) and the
node's DNS server (which answers them).

- an instance's private name: `euca-10-111-1-5.<InstanceDnsDomain>` (the network
  configuration's, `eucalyptus.internal` by default);
- its public name: `euca-203-0-113-5.eucalyptus.<cloud domain>` (the `domain` setting, the
  suffix of the endpoints' host names);
- a load balancer's: `<name>-<id>.<region>.elb.<cloud domain>`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

PUBLIC_LABEL = "eucalyptus"
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_INSTANCE_LABEL = re.compile(r"euca-(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})")


def check_domain(domain: str) -> str:
    """`domain` lower-cased, or ValueError when it is not a DNS domain name."""
    name = domain.strip().rstrip(".").lower()
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(p) for p in name.split(".")):
        raise ValueError(f"not a DNS domain name: {domain!r}")
    return name


@dataclass(frozen=True, slots=True)
class DnsDomains:
    # Private names' domain (InstanceDnsDomain).
    internal: str
    # Public names' domain (eucalyptus.<cloud domain>).
    public: str

    def private_name(self, ip: str | None) -> str:
        return f"euca-{ip.replace('.', '-')}.{self.internal}" if ip else ""

    def public_name(self, ip: str | None) -> str:
        return f"euca-{ip.replace('.', '-')}.{self.public}" if ip else ""

    def address_in(self, name: str) -> tuple[bool, str] | None:
        """(public?, address) that an instance name spells, None for any other name."""
        label, _, domain = name.lower().rstrip(".").partition(".")
        if domain not in (self.internal, self.public):
            return None
        found = _INSTANCE_LABEL.fullmatch(label)
        if found is None:
            return None
        try:
            ip = str(ipaddress.IPv4Address(".".join(found.groups())))
        except ValueError:
            return None
        # "euca-010-..." is not the name of 10...: one address, one name.
        return (domain == self.public, ip) if self.private_name(ip).startswith(label) else None


def domains(instance_dns_domain: str, cloud_domain: str) -> DnsDomains:
    """The names' domains; ValueError when either is not a domain name."""
    return DnsDomains(
        check_domain(instance_dns_domain), f"{PUBLIC_LABEL}.{check_domain(cloud_domain)}"
    )


def elb_domain(region: str, cloud_domain: str) -> str:
    return f"{check_domain(region)}.elb.{check_domain(cloud_domain)}"


def elb_name(name: str, lb_id: str, region: str, cloud_domain: str) -> str:
    """A load balancer's DNS name (its name is letters, digits and hyphens, as ELB checks)."""
    return f"{name.lower()}-{lb_id}.{elb_domain(region, cloud_domain)}"
