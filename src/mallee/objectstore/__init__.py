"""Object data and the rules over its rows, shared by the S3 API and the controller.

Where blobs live (backends), how a write lands among a key's versions (versions) and what a
bucket's lifecycle rules select (lifecycle_rules), and an account's object data going with the
account (account_data). The S3 wire API stays in services/s3.
"""
