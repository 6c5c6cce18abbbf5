"""Empyrean: the Eucalyptus admin API (service registry and cloud properties)."""
