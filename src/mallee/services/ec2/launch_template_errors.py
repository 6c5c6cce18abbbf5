"""The errors of EC2's launch template operations, with AWS's codes and texts."""

from __future__ import annotations

from mallee.api.errors import ServiceError

_NAME_RULE = (
    "A launch template name must be between 3 and 128 characters, and may contain letters,"
    " numbers, and the following characters: - ( ) . / _.'"
)


def name_exists(name: str) -> ServiceError:
    return ServiceError(
        "InvalidLaunchTemplateName.AlreadyExistsException",
        f"Launch template name already in use: {name}",
    )


def name_not_found(name: str | None = None) -> ServiceError:
    if name is None:
        message = "At least one of the launch templates specified in the request does not exist."
    else:
        message = f"The specified launch template, with template name {name}, does not exist."
    return ServiceError("InvalidLaunchTemplateName.NotFoundException", message)


def name_malformed() -> ServiceError:
    return ServiceError("InvalidLaunchTemplateName.MalformedException", _NAME_RULE)


def id_not_found(template_id: str) -> ServiceError:
    return ServiceError(
        "InvalidLaunchTemplateId.NotFound",
        f"The specified launch template, with template ID {template_id}, does not exist.",
    )


def id_malformed(template_id: str) -> ServiceError:
    return ServiceError(
        "InvalidLaunchTemplateId.Malformed",
        f"The specified ID for the launch template is not valid: '{template_id}'."
        " A launch template ID has the form lt-<17 hexadecimal characters>.",
    )


def version_not_found(version: str, template_id: str) -> ServiceError:
    return ServiceError(
        "InvalidLaunchTemplateId.VersionNotFound",
        f"Could not find the specified version {version} for the launch template with ID"
        f" {template_id}.",
    )


def bad_version(version: str) -> ServiceError:
    return ServiceError(
        "InvalidParameterValue",
        f"Invalid launch template version '{version}': expecting a version number, $Latest or"
        " $Default.",
    )


def id_or_name() -> ServiceError:
    return ServiceError(
        "MissingParameter",
        "The request must contain the parameter LaunchTemplateName or LaunchTemplateId",
    )


def id_and_name() -> ServiceError:
    return ServiceError(
        "InvalidParameterCombination",
        "Specify either LaunchTemplateId or LaunchTemplateName, not both.",
    )


def template_limit(limit: int) -> ServiceError:
    return ServiceError(
        "LaunchTemplateLimitExceeded",
        f"You have reached the maximum number of launch templates ({limit}) for this account.",
    )


def version_limit(limit: int, template_id: str) -> ServiceError:
    return ServiceError(
        "LaunchTemplateVersionLimitExceeded",
        f"The launch template {template_id} has reached its maximum number of versions ({limit}).",
    )


def description_too_long(limit: int) -> ServiceError:
    return ServiceError(
        "InvalidParameterValue",
        f"The version description must be at most {limit} characters.",
    )


def token_reused() -> ServiceError:
    return ServiceError(
        "IdempotentParameterMismatch",
        "The client token you have provided is associated with a resource that is already"
        " deleted, or with a request whose parameters differ. Use a different client token.",
    )
