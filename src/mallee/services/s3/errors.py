"""Every error S3 answers, with the extra fields S3 puts beside Code and Message."""

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


def invalid_canned_acl(name: str) -> ServiceError:
    return invalid_argument("", "x-amz-acl", name)


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


def no_kms() -> ServiceError:
    return not_implemented("Server side encryption specified but KMS is not configured")


def mfa_delete_not_supported() -> ServiceError:
    return ServiceError(
        "NotImplemented",
        "MFA Delete is not supported by this cloud.",
        501,
        extra={"Header": "x-amz-mfa"},
    )


def invalid_request(message: str) -> ServiceError:
    return ServiceError("InvalidRequest", message, 400)


def bad_request(message: str) -> ServiceError:
    return ServiceError("BadRequest", message, 400)


def method_not_allowed(headers: dict[str, str] | None = None) -> ServiceError:
    return ServiceError(
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
        405,
        headers=headers,
    )


def checksum_mismatch(header: str) -> ServiceError:
    return ServiceError(
        "BadDigest", f"The {header} you specified did not match the calculated checksum.", 400
    )


def key_too_long(size: int, limit: int) -> ServiceError:
    return ServiceError(
        "KeyTooLongError",
        "Your key is too long",
        400,
        extra={"MaxSizeAllowed": str(limit), "Size": str(size)},
    )


def invalid_storage_class(requested: str | None = None) -> ServiceError:
    extra = {"StorageClassRequested": requested} if requested is not None else None
    return ServiceError(
        "InvalidStorageClass", "The storage class you specified is not valid", 400, extra=extra
    )


def entity_too_large(size: int, limit: int) -> ServiceError:
    return ServiceError(
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size",
        400,
        extra={"ProposedSize": str(size), "MaxSizeAllowed": str(limit)},
    )


def entity_too_small(size: int, limit: int, **more: str) -> ServiceError:
    """`more`: the part's PartNumber and ETag, for a multipart upload's part."""
    return ServiceError(
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed size",
        400,
        extra={"ProposedSize": str(size), "MinSizeAllowed": str(limit), **more},
    )


# Buckets ----------------------------------------------------------------------------------------


def invalid_location_constraint(wanted: str) -> ServiceError:
    return ServiceError(
        "InvalidLocationConstraint",
        "The specified location-constraint is not valid",
        400,
        extra={"LocationConstraint": wanted},
    )


def too_many_buckets() -> ServiceError:
    return ServiceError(
        "TooManyBuckets", "You have attempted to create more buckets than allowed", 400
    )


def bucket_not_empty(bucket: str) -> ServiceError:
    return ServiceError(
        "BucketNotEmpty",
        "The bucket you tried to delete is not empty",
        409,
        extra={"BucketName": bucket},
    )


def bucket_already_owned_by_you(bucket: str) -> ServiceError:
    return ServiceError(
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.",
        409,
        extra={"BucketName": bucket},
    )


def bucket_already_exists(bucket: str) -> ServiceError:
    return ServiceError(
        "BucketAlreadyExists",
        "The requested bucket name is not available. The bucket namespace is shared by all "
        "users of the system. Please select a different name and try again.",
        409,
        extra={"BucketName": bucket},
    )


# A bucket's settings ------------------------------------------------------------------------------


def _missing_setting(code: str, message: str, bucket: str) -> ServiceError:
    return ServiceError(code, message, 404, extra={"BucketName": bucket})


def no_such_bucket_policy(bucket: str) -> ServiceError:
    return _missing_setting("NoSuchBucketPolicy", "The bucket policy does not exist", bucket)


def no_such_cors_configuration(bucket: str) -> ServiceError:
    return _missing_setting(
        "NoSuchCORSConfiguration", "The CORS configuration does not exist", bucket
    )


def no_such_lifecycle_configuration(bucket: str) -> ServiceError:
    return _missing_setting(
        "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", bucket
    )


def no_such_website_configuration(bucket: str) -> ServiceError:
    return _missing_setting(
        "NoSuchWebsiteConfiguration",
        "The specified bucket does not have a website configuration",
        bucket,
    )


def no_such_public_access_block(bucket: str) -> ServiceError:
    return _missing_setting(
        "NoSuchPublicAccessBlockConfiguration",
        "The public access block configuration was not found",
        bucket,
    )


def ownership_controls_not_found(bucket: str) -> ServiceError:
    return _missing_setting(
        "OwnershipControlsNotFoundError", "The bucket ownership controls were not found", bucket
    )


def no_such_tag_set(bucket: str) -> ServiceError:
    return _missing_setting("NoSuchTagSet", "The TagSet does not exist", bucket)


def invalid_target_bucket_for_logging(bucket: str, message: str) -> ServiceError:
    return ServiceError(
        "InvalidTargetBucketForLogging", message, 400, extra={"TargetBucket": bucket}
    )


def malformed_policy(message: str) -> ServiceError:
    return ServiceError("MalformedPolicy", message, 400)


def invalid_tag(message: str) -> ServiceError:
    return ServiceError("InvalidTag", message, 400)


# ACLs -------------------------------------------------------------------------------------------


def malformed_acl(
    message: str = "The XML you provided was not well-formed or did not validate against "
    "our published schema",
) -> ServiceError:
    return ServiceError("MalformedACLError", message, 400)


def unexpected_content() -> ServiceError:
    return ServiceError("UnexpectedContent", "This request does not support content", 400)


def missing_security_header(header: str) -> ServiceError:
    return ServiceError(
        "MissingSecurityHeader",
        "Your request was missing a required header",
        400,
        extra={"MissingHeaderName": header},
    )


def unresolvable_grant_by_email(address: str) -> ServiceError:
    return ServiceError(
        "UnresolvableGrantByEmailAddress",
        "The e-mail address you provided does not match any account on record.",
        400,
        extra={"EmailAddress": address},
    )


def acl_not_supported() -> ServiceError:
    return ServiceError("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)


def acl_with_enforced_ownership() -> ServiceError:
    return ServiceError(
        "InvalidBucketAclWithObjectOwnership",
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        400,
    )


# CORS preflights --------------------------------------------------------------------------------


def access_forbidden(message: str, method: str, key: str) -> ServiceError:
    return ServiceError(
        "AccessForbidden",
        message,
        403,
        extra={"Method": method, "ResourceType": "OBJECT" if key else "BUCKET"},
    )


# Multipart uploads ------------------------------------------------------------------------------


def no_such_upload(upload_id: str) -> ServiceError:
    return ServiceError(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may "
        "have been aborted or completed.",
        404,
        extra={"UploadId": upload_id},
    )


def invalid_part(number: int, etag: str) -> ServiceError:
    return ServiceError(
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been "
        "uploaded, or the specified entity tag may not match the part's entity tag.",
        400,
        extra={"PartNumber": str(number), "ETag": etag},
    )


def invalid_part_order() -> ServiceError:
    return ServiceError(
        "InvalidPartOrder",
        "The list of parts was not in ascending order. The parts list must be specified in "
        "order by part number.",
        400,
    )


# Browser POST uploads ---------------------------------------------------------------------------


def malformed_post_request() -> ServiceError:
    return ServiceError(
        "MalformedPOSTRequest",
        "The body of your POST request is not well-formed multipart/form-data.",
        400,
    )


def max_post_pre_data_exceeded() -> ServiceError:
    return ServiceError(
        "MaxPostPreDataLengthExceeded",
        "Your POST request fields preceeding the upload file was too large.",
        400,
    )


def invalid_policy_document(detail: str) -> ServiceError:
    return ServiceError("InvalidPolicyDocument", f"Invalid Policy: {detail}", 400)


def post_policy_denied(detail: str) -> ServiceError:
    return ServiceError("AccessDenied", f"Invalid according to Policy: {detail}", 403)


def missing_post_field(name: str) -> ServiceError:
    return invalid_argument(
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the"
        " order of the fields.",
        name,
    )
