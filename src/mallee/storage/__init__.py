"""The storage controller (`mallee storage`): EBS volumes on this host, exported over NBD."""
