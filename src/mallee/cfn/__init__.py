"""CloudFormation's template layer: parsing, parameters, conditions, intrinsic functions, the
resource dependency graph and template validation.

Pure logic below the API service and the controller's stack engine: it imports nothing of
mallee, does no I/O, and asks the caller (through callbacks) for anything account-specific.
"""
