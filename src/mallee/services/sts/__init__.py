"""STS (Eucalyptus Tokens): caller identity and temporary credentials."""
