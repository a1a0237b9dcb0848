"""CloudTrail's ``userIdentity`` element: who made a KMS call, as CloudTrail shows it."""

from __future__ import annotations

from typing import Any

from kmslab.kms.seams import Caller

__all__ = ["user_identity", "user_name"]


def user_name(caller: Caller) -> str | None:
    """Return the user or session name CloudTrail shows for a caller.

    Args:
        caller: the principal.

    Returns:
        The last ARN path element for IAM users and assumed roles, ``root`` for the root user,
        the service for an AWS service, else None.
    """
    if caller.identity_type == "Root":
        return "root"
    if caller.identity_type == "AWSService":
        return caller.invoked_by
    if caller.identity_type in ("IAMUser", "AssumedRole"):
        return caller.arn.rsplit("/", 1)[-1]
    return None


def user_identity(caller: Caller) -> dict[str, Any]:
    """Return CloudTrail's ``userIdentity`` element for a caller.

    Args:
        caller: the principal.

    Returns:
        The element; ``invokedBy`` is set when a service made the call on the caller's behalf.
    """
    if caller.identity_type == "AWSService":
        identity: dict[str, Any] = {"type": "AWSService", "invokedBy": caller.invoked_by or caller.arn}
        return identity
    identity = {
        "type": caller.identity_type,
        "principalId": caller.principal_id or caller.account,
        "arn": caller.arn,
        "accountId": caller.account,
    }
    if caller.access_key_id:
        identity["accessKeyId"] = caller.access_key_id
    if caller.identity_type == "IAMUser":
        identity["userName"] = user_name(caller)
    if caller.identity_type == "AssumedRole":
        identity["sessionContext"] = _session_context(caller)
    if caller.invoked_by:
        identity["invokedBy"] = caller.invoked_by
    return identity


def _session_context(caller: Caller) -> dict[str, Any]:
    # arn:aws:sts::111122223333:assumed-role/RoleName/session -> the role behind the session
    parts = caller.arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    role_name = resource.split("/")[1] if resource.count("/") >= 2 else resource
    principal = caller.principal_id.split(":", 1)[0] if caller.principal_id else ""
    return {
        "sessionIssuer": {
            "type": "Role",
            "principalId": principal,
            "arn": f"arn:aws:iam::{caller.account}:role/{role_name}",
            "accountId": caller.account,
            "userName": role_name,
        },
        "attributes": {"mfaAuthenticated": "false"},
    }
