"""What AWS answers each principal of the security matrix, and which answers are violations.

The expected errors are AWS's, per wire style (ServiceSpec.auth_style): query (IAM, STS,
Empyrean), ec2, s3. Exemptions are the operations AWS itself lets callers perform without (or
despite) a policy; each one names the AWS documentation that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Answer = tuple[str, int]

# No credentials at all.
MISSING_AUTH: Mapping[str, frozenset[Answer]] = {
    # https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html
    "query": frozenset({("MissingAuthenticationToken", 403)}),
    # EC2's common errors list MissingAuthenticationToken and AuthFailure; EC2 itself answers
    # an unsigned Query request "MissingParameter: The request must contain the parameter
    # AWSAccessKeyId" (400). https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    "ec2": frozenset(
        {("MissingParameter", 400), ("MissingAuthenticationToken", 403), ("AuthFailure", 401)}
    ),
    # S3 evaluates an anonymous request against the bucket policy and ACLs; on a private bucket
    # it is AccessDenied (a missing bucket would be NoSuchBucket, but every request here names
    # A's real, private resources).
    # https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
    "s3": frozenset({("AccessDenied", 403)}),
}

# A real access key id, a wrong signature.
FORGED: Mapping[str, frozenset[Answer]] = {
    "query": frozenset({("SignatureDoesNotMatch", 403)}),
    "ec2": frozenset({("AuthFailure", 401)}),
    "s3": frozenset({("SignatureDoesNotMatch", 403)}),
}

# Authenticated, but no policy allows the action (or one denies it explicitly).
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html: EC2 says
# UnauthorizedOperation (403); IAM, STS and S3 say AccessDenied (403).
DENIED: Mapping[str, frozenset[Answer]] = {
    "query": frozenset({("AccessDenied", 403)}),
    "ec2": frozenset({("UnauthorizedOperation", 403)}),
    "s3": frozenset({("AccessDenied", 403)}),
}

# An operation of the model the service does not implement (yet).
UNSUPPORTED = frozenset({("InvalidAction", 400), ("NotImplemented", 501)})

# Operations AWS performs for every authenticated caller, whatever its policies say.
ALWAYS_ALLOWED: Mapping[str, Mapping[str, str]] = {
    "sts": {
        "GetCallerIdentity": (
            "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html:"
            " No permissions are required to perform this operation. If an administrator"
            " attaches a policy to your identity that explicitly denies access to the"
            " sts:GetCallerIdentity action, you can still perform this operation."
        ),
        "GetSessionToken": (
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
            "id_credentials_temp_control-access_getsessiontoken.html: No permissions are"
            " required for a user to get a session token. You cannot use policies to control"
            " authentication operations."
        ),
        # mallee's own operation (the web console's sign-out), so no AWS page names it; the
        # nearest AWS analogue is IAM Identity Center's Logout, which ends the caller's own
        # sign-in session on that session's token alone, with no IAM action to allow or deny.
        "RevokeAccessToken": (
            "https://docs.aws.amazon.com/singlesignon/latest/PortalAPIReference/API_Logout.html:"
            " it ends only the session the request is signed with (a long-term key is answered"
            " ValidationError)"
        ),
    },
}
# Of those, the ones every authenticated caller's long-term key must see succeed.
MUST_SUCCEED = frozenset({("sts", "GetCallerIdentity"), ("sts", "GetSessionToken")})
# What GetSessionToken's credentials may call in STS whatever their policies say; the rest
# of STS refuses them (AccessDenied: Cannot call GetSessionToken with session credentials).
# https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html: "You cannot
# call any STS API except AssumeRole or GetCallerIdentity."
SESSION_STS = frozenset({"AssumeRole", "GetCallerIdentity"})

# B may delete "its" key pair named by A's id: EC2 answers a delete of a key pair the caller
# does not have with success (https://github.com/boto/boto3/issues/865), and A's key pair
# stays (test_a_is_unchanged); the answer must not name A's key.
IDEMPOTENT = frozenset({("ec2", "DeleteKeyPair")})

# Operations authorized item by item (a provider lists them as always allowed: the request as
# a whole needs no permission): refused, they succeed with every item in their Errors.
PER_ITEM: Mapping[str, Mapping[str, str]] = {
    "s3": {
        "DeleteObjects": (
            "https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html: For each"
            " key, Amazon S3 performs a delete action and returns the result of that delete,"
            " success, or failure, in the response (Errors, with the error per key)."
        ),
    },
}

# Operations a provider lets callers reach without a signature; the matrix still checks that
# what they answer a caller without credentials is a refusal.
ANONYMOUS_ALLOWED: Mapping[str, str] = {
    "s3": (
        "Every S3 operation may be sent anonymously; the bucket policy and ACLs decide, and a"
        " private resource refuses it: https://docs.aws.amazon.com/AmazonS3/latest/userguide/"
        "acl-overview.html (the AllUsers group)"
    ),
    "sts.GetAccessToken": (
        "Eucalyptus' console sign-in: its credentials are the Basic header's account, user and"
        " password, not a signature, as AWS's own sign-in calls need no AWS credentials:"
        " https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html"
        " (Calling AssumeRoleWithWebIdentity does not require the use of AWS security"
        " credentials)"
    ),
}

# Eucalyptus: what only the cloud administrator (the `eucalyptus` account) may call, whoever
# else asks (another account's root included) and whatever its policies say; "*": all of the
# service. euca2ools marks these "[Eucalyptus cloud admin only]", e.g.
# https://manpages.ubuntu.com/manpages/xenial/man1/euare-accountcreate.1.html
ADMIN_ONLY: Mapping[str, frozenset[str]] = {
    "empyrean": frozenset({"*"}),
    "iam": frozenset(
        {
            "CreateAccount",
            "DeleteAccount",
            "ListAccounts",
            "PutAccountPolicy",
            "GetAccountPolicy",
            "ListAccountPolicies",
            "DeleteAccountPolicy",
        }
    ),
    "ec2": frozenset({"ModifyInstanceTypeAttribute"}),
}

# B may learn which account owns an access key id: AWS answers that to anyone allowed
# sts:GetAccessKeyInfo. https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html
CROSS_ACCOUNT_BY_DESIGN = frozenset({("sts", "GetAccessKeyInfo")})

OTHER_ACCOUNT = ("other-account", "other-account-delegating")


@dataclass(frozen=True)
class Outcome:
    service: str
    operation: str
    principal: str
    # 0: no HTTP answer at all (the connection broke); -1: the client could not send it.
    status: int
    # "" on success, and for HEAD errors, whose answers carry no body.
    code: str
    message: str
    # Whether it carried the principal's signature (botocore sends a few operations unsigned
    # whoever asks: STS AssumeRoleWithSAML and AssumeRoleWithWebIdentity).
    signed: bool = True
    # Signed with temporary credentials (a session token).
    temporary: bool = False
    # A's tokens in what was sent, and in a successful answer.
    sent_tokens: frozenset[str] = frozenset()
    answer_tokens: frozenset[str] = frozenset()
    # A successful answer's per-item results (PER_ITEM): the error codes, the items done.
    item_errors: tuple[str, ...] = ()
    items_done: int = 0

    def __str__(self) -> str:
        code = self.code or "-"
        text = f"{self.service}:{self.operation} as {self.principal} -> {self.status} {code}"
        return f"{text} ({self.message[:120]})" if self.message else text


def _matches(outcome: Outcome, allowed: frozenset[Answer]) -> bool:
    if not outcome.code:
        return any(outcome.status == status for _, status in allowed)
    return (outcome.code, outcome.status) in allowed


def violation(outcome: Outcome, style: str) -> str | None:
    """Why this answer is wrong, or None when it is what AWS would answer."""
    o = outcome
    if o.status == -1:
        return "the client could not build this request (fix matrix_requests or the names)"
    if o.status == 0:
        return "no HTTP answer"
    if o.status >= 500 and (o.code, o.status) != ("NotImplemented", 501):
        return "server error"
    exempt = o.operation in ALWAYS_ALLOWED.get(o.service, {})
    if o.operation in PER_ITEM.get(o.service, {}) and 200 <= o.status < 300:
        return _per_item(o, style)
    if not o.signed:
        refusals = MISSING_AUTH[style]
        if f"{o.service}.{o.operation}" in ANONYMOUS_ALLOWED:
            # Reachable without a signature, it refuses what it finds no credentials in.
            refusals |= DENIED[style]
        return None if _matches(o, refusals | UNSUPPORTED) else f"expected {sorted(refusals)}"
    if o.principal == "forged":
        return None if _matches(o, FORGED[style]) else f"expected {sorted(FORGED[style])}"
    if o.temporary and o.service == "sts" and o.operation not in SESSION_STS:
        ok = _matches(o, DENIED[style] | UNSUPPORTED)
        return None if ok else f"expected {sorted(DENIED[style])}"
    if exempt and (o.service, o.operation) in MUST_SUCCEED:
        return None if 200 <= o.status < 300 else "AWS performs it for every authenticated caller"
    if exempt:
        refused = _matches(o, DENIED[style])
        return "refused by authorization, which it is exempt from" if refused else None
    admin_only = ADMIN_ONLY.get(o.service, frozenset())
    if o.principal in OTHER_ACCOUNT and not ("*" in admin_only or o.operation in admin_only):
        return _other_account(o)
    ok = _matches(o, DENIED[style] | UNSUPPORTED)
    return None if ok else f"expected {sorted(DENIED[style])}"


def _other_account(o: Outcome) -> str | None:
    """B acting in its own account may succeed; it must not reach or see anything of A's."""
    if not 200 <= o.status < 300:
        return None if 400 <= o.status < 500 or o.status == 501 else "unexpected status"
    if (o.service, o.operation) in CROSS_ACCOUNT_BY_DESIGN:
        return None
    if o.sent_tokens and (o.service, o.operation) not in IDEMPOTENT:
        return f"succeeded on A's {sorted(o.sent_tokens)}"
    if o.answer_tokens:
        return f"answered A's {sorted(o.answer_tokens)}"
    return None


def _per_item(o: Outcome, style: str) -> str | None:
    """Answered 2xx item by item: every item must have been refused, none done."""
    denied = {code for code, _ in DENIED[style]}
    if o.items_done or not o.item_errors or not set(o.item_errors) <= denied:
        return f"per item: {o.items_done} done, errors {list(o.item_errors)}"
    return None
