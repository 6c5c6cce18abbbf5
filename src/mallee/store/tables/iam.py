"""IAM: accounts, users, groups, roles, keys, policies."""
