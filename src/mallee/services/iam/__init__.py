"""IAM (Eucalyptus Euare): accounts, users, groups, roles, keys, policies, authorization."""
