"""EC2 (compute): one module per resource family, each a mixin of operation methods."""
