"""The DNS names EC2 shows (mallee.dns_names) in this cloud."""

from __future__ import annotations

from mallee.dns_names import DnsDomains
from mallee.registry.dns_domains import dns_domains
from mallee.services.base import Runtime


def names(rt: Runtime) -> DnsDomains:
    return dns_domains(rt.store)
