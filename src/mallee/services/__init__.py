"""AWS services: one package each; providers hold one method per operation."""
