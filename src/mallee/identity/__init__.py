"""Who a caller is and what they may do: the identity data model (accounts, ARNs, access keys,
passwords, temporary credentials) and the authorizer, shared by the gateway and every service.
IAM's and STS's APIs manage these; they do not own them."""
