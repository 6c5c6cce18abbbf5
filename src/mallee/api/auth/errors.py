"""Authentication failures and the AWS error each wire style reports for them.

Every service family words the same failure differently (IAM says InvalidClientTokenId where
EC2 says AuthFailure and S3 says InvalidAccessKeyId), so the verifiers raise a `Failure` kind and
this one table turns it into the ServiceError of the caller's `style`.
"""

from __future__ import annotations

import enum
from typing import Literal

from mallee.api.errors import ServiceError

Style = Literal["query", "ec2", "s3"]
STYLES: tuple[Style, ...] = ("query", "ec2", "s3")


class Failure(enum.Enum):
    UNKNOWN_KEY = "unknown access key"
    BAD_SIGNATURE = "signature mismatch"
    SCOPE_DATE = "credential scope date differs from the request date"
    MISSING_AUTH = "no authentication at all"
    MALFORMED_HEADER = "malformed Authorization header"
    MALFORMED_QUERY = "malformed presigned query parameters"
    MISSING_PARAMETER = "a signature parameter is missing"
    MISSING_DATE = "no usable request date"
    SKEWED = "request time too far from server time"
    TIMESTAMP_EXPIRED = "SigV2 Timestamp too far from server time"
    PRESIGN_EXPIRED = "presigned request expired"
    NOT_YET_VALID = "presigned request dated in the future"
    TOKEN_INVALID = "missing or wrong session token"
    TOKEN_EXPIRED = "temporary credentials expired"
    UNSUPPORTED = "unsupported signing scheme"
    BAD_CONTENT_SHA256 = "invalid x-amz-content-sha256"
    MISSING_CONTENT_SHA256 = "x-amz-content-sha256 required"
    CONTENT_SHA256_MISMATCH = "body does not hash to x-amz-content-sha256"
    STREAM_INCOMPLETE = "aws-chunked body truncated or malformed"
    CHECKSUM_MISMATCH = "trailing checksum does not match the body"


_SIG_QUERY = (
    "The request signature we calculated does not match the signature you provided. Check your"
    " AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_SIG_S3 = (
    "The request signature we calculated does not match the signature you provided."
    " Check your key and signing method."
)
_EC2_AUTH = "AWS was not able to validate the provided access credentials"
_INCOMPLETE_BODY = "The request body terminated unexpectedly"

# (code, HTTP status, default message) for every failure kind, per style.
_Entry = tuple[str, int, str]
TABLE: dict[Failure, dict[Style, _Entry]] = {
    Failure.UNKNOWN_KEY: {
        "query": (
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid.",
        ),
        "ec2": ("AuthFailure", 401, _EC2_AUTH),
        "s3": (
            "InvalidAccessKeyId",
            403,
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
    },
    Failure.BAD_SIGNATURE: {
        "query": ("SignatureDoesNotMatch", 403, _SIG_QUERY),
        "ec2": ("AuthFailure", 401, _EC2_AUTH),
        "s3": ("SignatureDoesNotMatch", 403, _SIG_S3),
    },
    Failure.SCOPE_DATE: {
        "query": ("SignatureDoesNotMatch", 403, _SIG_QUERY),
        "ec2": ("AuthFailure", 401, _EC2_AUTH),
        "s3": (
            "AuthorizationHeaderMalformed",
            400,
            "The authorization header is malformed; Invalid credential date. Date is not the"
            " same as X-Amz-Date.",
        ),
    },
    Failure.MISSING_AUTH: {
        "query": ("MissingAuthenticationToken", 403, "Request is missing Authentication Token"),
        "ec2": ("MissingParameter", 400, "The request must contain the parameter AWSAccessKeyId"),
        "s3": ("AccessDenied", 403, "Access Denied"),
    },
    Failure.MALFORMED_HEADER: {
        "query": (
            "IncompleteSignature",
            400,
            "The request signature does not conform to AWS standards.",
        ),
        "ec2": (
            "IncompleteSignature",
            400,
            "The request signature does not conform to AWS standards.",
        ),
        "s3": ("AuthorizationHeaderMalformed", 400, "The authorization header is malformed."),
    },
    Failure.MALFORMED_QUERY: {
        "query": (
            "IncompleteSignature",
            400,
            "The request signature does not conform to AWS standards.",
        ),
        "ec2": (
            "IncompleteSignature",
            400,
            "The request signature does not conform to AWS standards.",
        ),
        "s3": (
            "AuthorizationQueryParametersError",
            400,
            "Query-string authentication version 4"
            " requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date,"
            " X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        ),
    },
    Failure.MISSING_PARAMETER: {
        "query": ("MissingParameter", 400, "A required signature parameter is missing."),
        "ec2": ("MissingParameter", 400, "A required signature parameter is missing."),
        "s3": (
            "AccessDenied",
            403,
            "Query-string authentication requires the Signature,"
            " Expires and AWSAccessKeyId parameters",
        ),
    },
    Failure.MISSING_DATE: {
        "query": (
            "IncompleteSignature",
            400,
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ),
        "ec2": (
            "IncompleteSignature",
            400,
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ),
        "s3": (
            "AccessDenied",
            403,
            "AWS authentication requires a valid Date or x-amz-date header",
        ),
    },
    # Each service's own answer to a request signed too far from now: the codes SDKs look for
    # to correct their clock and retry. IAM and STS say "Signature expired: ..." as a
    # SignatureDoesNotMatch; EC2 and S3 have codes of their own.
    Failure.SKEWED: {
        "query": ("SignatureDoesNotMatch", 403, "Signature expired."),
        "ec2": ("RequestExpired", 400, "Request has expired."),
        "s3": (
            "RequestTimeTooSkewed",
            403,
            "The difference between the request time and the current time is too large.",
        ),
    },
    Failure.TIMESTAMP_EXPIRED: {
        "query": ("RequestExpired", 400, "Request has expired."),
        "ec2": ("RequestExpired", 400, "Request has expired."),
        "s3": (
            "RequestTimeTooSkewed",
            403,
            "The difference between the request time and the current time is too large.",
        ),
    },
    Failure.PRESIGN_EXPIRED: {
        "query": ("RequestExpired", 400, "Request has expired."),
        "ec2": ("RequestExpired", 400, "Request has expired."),
        "s3": ("AccessDenied", 403, "Request has expired"),
    },
    Failure.NOT_YET_VALID: {
        "query": ("RequestExpired", 400, "Request is not yet valid."),
        "ec2": ("RequestExpired", 400, "Request is not yet valid."),
        "s3": ("AccessDenied", 403, "Request is not valid yet"),
    },
    Failure.TOKEN_INVALID: {
        "query": (
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid.",
        ),
        "ec2": ("AuthFailure", 401, _EC2_AUTH),
        "s3": ("InvalidToken", 400, "The provided token is malformed or otherwise invalid."),
    },
    Failure.TOKEN_EXPIRED: {
        "query": ("ExpiredToken", 403, "The security token included in the request is expired"),
        # EC2 answers expired session credentials like an expired request.
        "ec2": ("RequestExpired", 400, "Request has expired."),
        "s3": ("ExpiredToken", 400, "The provided token has expired."),
    },
    Failure.UNSUPPORTED: {
        "query": ("IncompleteSignature", 400, "Unsupported AWS 'algorithm'."),
        "ec2": ("IncompleteSignature", 400, "Unsupported AWS 'algorithm'."),
        "s3": ("InvalidArgument", 400, "Unsupported Authorization Type"),
    },
    Failure.BAD_CONTENT_SHA256: {
        "query": ("SignatureDoesNotMatch", 403, _SIG_QUERY),
        "ec2": ("AuthFailure", 401, _EC2_AUTH),
        "s3": (
            "InvalidArgument",
            400,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD,"
            " STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD,"
            " STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
        ),
    },
    Failure.MISSING_CONTENT_SHA256: {
        "query": ("SignatureDoesNotMatch", 403, _SIG_QUERY),
        "ec2": ("AuthFailure", 401, _EC2_AUTH),
        "s3": (
            "InvalidRequest",
            400,
            "Missing required header for this request: x-amz-content-sha256",
        ),
    },
    Failure.CONTENT_SHA256_MISMATCH: {
        "query": ("SignatureDoesNotMatch", 403, _SIG_QUERY),
        "ec2": ("AuthFailure", 401, _EC2_AUTH),
        "s3": (
            "XAmzContentSHA256Mismatch",
            400,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ),
    },
    Failure.STREAM_INCOMPLETE: {
        "query": ("IncompleteBody", 400, _INCOMPLETE_BODY),
        "ec2": ("IncompleteBody", 400, _INCOMPLETE_BODY),
        "s3": ("IncompleteBody", 400, _INCOMPLETE_BODY),
    },
    Failure.CHECKSUM_MISMATCH: {
        "query": ("BadDigest", 400, "The checksum you specified did not match the body."),
        "ec2": ("BadDigest", 400, "The checksum you specified did not match the body."),
        "s3": ("BadDigest", 400, "The checksum you specified did not match the body."),
    },
}


class AuthError(ServiceError):
    """A ServiceError that also remembers which failure kind it reports (for logs and tests)."""

    def __init__(
        self,
        failure: Failure,
        style: Style,
        message: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        code, status, default = TABLE[failure][style]
        super().__init__(code, message or default, status, extra=extra)
        self.failure = failure
        self.style = style


def auth_error(
    failure: Failure,
    style: Style,
    message: str | None = None,
    extra: dict[str, str] | None = None,
) -> AuthError:
    return AuthError(failure, style, message, extra)


def missing_authentication(style: Style) -> AuthError:
    """The error for a request that carries no credentials where the operation needs them."""
    return AuthError(Failure.MISSING_AUTH, style)


def check_style(style: str) -> Style:
    if style == "query":
        return "query"
    if style == "ec2":
        return "ec2"
    if style == "s3":
        return "s3"
    raise ValueError(f"unknown authentication error style {style!r}")
