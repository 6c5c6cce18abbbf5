"""The cloud's DNS domains (mallee.dns_names), from its properties: the network plan's
InstanceDnsDomain (private names) and `system.dns.dnsdomain` (public and load balancer names).
What EC2 and ELB show and what the nodes' metadata and DNS servers answer."""

from __future__ import annotations

from mallee import dns_names
from mallee.dns_names import DnsDomains
from mallee.network_config import BadNetworkConfig, parse
from mallee.registry import properties
from mallee.store import Store

DEFAULT_INSTANCE_DOMAIN = "eucalyptus.internal"
DEFAULT_CLOUD_DOMAIN = "cloud.internal"


def cloud_domain(store: Store) -> str:
    return properties.get_str(store, "system.dns.dnsdomain")


def dns_domains(store: Store) -> DnsDomains:
    """Read through the properties' one-second cache, so callable per request."""
    try:
        config = parse(properties.get_json(store, "cloud.network.network_configuration"))
        return dns_names.domains(config.dns_domain, cloud_domain(store))
    except (BadNetworkConfig, ValueError):
        # A plan naming no usable domain still launches instances; they get default names.
        return dns_names.domains(DEFAULT_INSTANCE_DOMAIN, DEFAULT_CLOUD_DOMAIN)


def elb_domain(store: Store, region: str) -> str:
    """<region>.elb.<the cloud's domain>: where load balancers' names are."""
    try:
        return dns_names.elb_domain(region, cloud_domain(store))
    except ValueError:  # a region that is no DNS label: the default one's
        return dns_names.elb_domain("eucalyptus", DEFAULT_CLOUD_DOMAIN)
