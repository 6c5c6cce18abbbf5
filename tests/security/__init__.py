"""Security regression tests: probes an attacker would send, against the real server."""
