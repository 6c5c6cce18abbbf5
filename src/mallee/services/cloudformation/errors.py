"""Every error CloudFormation answers with, by the code and status AWS gives it."""

from __future__ import annotations

from mallee.api.errors import ServiceError

# AWS appends this to every S3 error it met reading a TemplateURL.
S3_ERRORS_PAGE = "http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def stack_not_found(name: str) -> ServiceError:
    return validation(f"Stack with id {name} does not exist")


def stack_set_not_found(name: str) -> ServiceError:
    return ServiceError("StackSetNotFoundException", f"StackSet {name} not found", 404)


def bad_template_url() -> ServiceError:
    return validation("TemplateURL must be a supported URL.")


def s3_error(message: str) -> ServiceError:
    return validation(f"S3 error: {message} For more information check {S3_ERRORS_PAGE}")


def url_template_too_large(limit: int) -> ServiceError:
    return validation(f"Template may not exceed {limit} bytes in size.")


def body_too_long(body: str, limit: int) -> ServiceError:
    # AWS's constraint message echoes the value, as its validation errors do for any member.
    return validation(
        f"1 validation error detected: Value '{body}' at 'templateBody' failed to satisfy "
        f"constraint: Member must have length less than or equal to {limit}"
    )
