"""Classic Elastic Load Balancing (2012-06-01)."""
