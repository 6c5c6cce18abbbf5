"""Service registry and cloud properties (Empyrean)."""
