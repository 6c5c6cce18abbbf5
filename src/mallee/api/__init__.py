"""The wire layer: routing, authentication, protocols. Knows nothing of VMs."""
