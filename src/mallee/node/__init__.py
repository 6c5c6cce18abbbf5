"""The node controller agent: runs VMs with QEMU and applies the node's data plane."""
