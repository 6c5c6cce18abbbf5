"""S3's error codes, with the extra fields S3 puts beside Code and Message."""

from __future__ import annotations

from mallee.api.errors import ServiceError


def no_such_bucket(bucket: str) -> ServiceError:
    return ServiceError(
        "NoSuchBucket", "The specified bucket does not exist", 404, extra={"BucketName": bucket}
    )


def no_such_key(key: str) -> ServiceError:
    return ServiceError("NoSuchKey", "The specified key does not exist.", 404, extra={"Key": key})


def no_such_version(key: str, version: str) -> ServiceError:
    return ServiceError(
        "NoSuchVersion",
        "The specified version does not exist.",
        404,
        extra={"Key": key, "VersionId": version},
    )


def invalid_argument(message: str, name: str = "", value: str = "") -> ServiceError:
    extra = {"ArgumentName": name, "ArgumentValue": value} if name else {}
    return ServiceError("InvalidArgument", message, 400, extra=extra)


def invalid_bucket_name(bucket: str) -> ServiceError:
    return ServiceError(
        "InvalidBucketName",
        "The specified bucket is not valid.",
        400,
        extra={"BucketName": bucket},
    )


def access_denied() -> ServiceError:
    return ServiceError("AccessDenied", "Access Denied", 403)


def precondition_failed(condition: str) -> ServiceError:
    return ServiceError(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        412,
        extra={"Condition": condition},
    )


def not_modified() -> ServiceError:
    return ServiceError("NotModified", "Not Modified", 304)


def invalid_range(size: int) -> ServiceError:
    return ServiceError(
        "InvalidRange",
        "The requested range is not satisfiable",
        416,
        extra={"ActualObjectSize": str(size)},
        headers={"Content-Range": f"bytes */{size}"},
    )


def bad_digest() -> ServiceError:
    return ServiceError(
        "BadDigest", "The Content-MD5 you specified did not match what we received.", 400
    )


def invalid_digest() -> ServiceError:
    return ServiceError("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)


def malformed_xml() -> ServiceError:
    return ServiceError(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )


def not_implemented(
    message: str = "A header you provided implies functionality that is not implemented",
) -> ServiceError:
    return ServiceError("NotImplemented", message, 501, sender_fault=False)
