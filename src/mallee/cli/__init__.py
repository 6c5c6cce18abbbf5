"""Command-line entry points: the `mallee` command and the seed-compatible commands."""
