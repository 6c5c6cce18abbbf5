"""The cloud's DNS domains (mallee.dns_names), from its network plan and the cloud's domain:
what EC2 shows and what the nodes' metadata and DNS servers answer."""

from __future__ import annotations

from mallee.dns_names import DnsDomains, domains
from mallee.network_config import BadNetworkConfig, parse
from mallee.registry import properties
from mallee.store import Store

DEFAULT_INSTANCE_DOMAIN = "eucalyptus.internal"
DEFAULT_CLOUD_DOMAIN = "localhost"


def dns_domains(store: Store, cloud_domain: str) -> DnsDomains:
    """Read through the properties' one-second cache, so callable per request."""
    try:
        config = parse(properties.get_json(store, "cloud.network.network_configuration"))
        return domains(config.dns_domain, cloud_domain)
    except (BadNetworkConfig, ValueError):
        # A plan naming no usable domain still launches instances; they get default names.
        return domains(DEFAULT_INSTANCE_DOMAIN, DEFAULT_CLOUD_DOMAIN)
