"""Hypervisor drivers: QEMU (KVM when it boots, else TCG) and a fake one for scale tests."""

from mallee.node.hypervisor.base import Hypervisor, VmSpec

__all__ = ["Hypervisor", "VmSpec"]
