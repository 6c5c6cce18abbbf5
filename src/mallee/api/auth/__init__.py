"""Request authentication: AWS SigV4 (header, presigned, aws-chunked streaming) and SigV2.

Pure code: secrets come from a `CredentialLookup` callback, errors are ServiceErrors worded for
the caller's wire style ("query", "ec2" or "s3").
"""

from mallee.api.auth.common import AuthResult, PayloadReader
from mallee.api.auth.core import authenticate, credential_scope
from mallee.api.auth.errors import AuthError, Failure, auth_error, missing_authentication
from mallee.api.auth.streaming import ChunkedPayloadDecoder, ChunkSigner, PayloadHashVerifier

__all__ = [
    "AuthError",
    "AuthResult",
    "ChunkSigner",
    "ChunkedPayloadDecoder",
    "Failure",
    "PayloadHashVerifier",
    "PayloadReader",
    "auth_error",
    "authenticate",
    "credential_scope",
    "missing_authentication",
]
