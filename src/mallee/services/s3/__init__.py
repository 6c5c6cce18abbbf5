"""The Object Storage Gateway: the S3 REST API over pluggable backends."""
