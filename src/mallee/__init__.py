"""mallee: an open-source private cloud that speaks the AWS APIs."""

__version__ = "0.1.0"
