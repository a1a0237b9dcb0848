"""Who a caller is, in the terms a policy's Principal element uses."""

from __future__ import annotations

import re
from typing import Literal

from kmslab.kms.policy._document import Principals
from kmslab.kms.seams import Caller

Match = Literal["direct", "account"]

_ASSUMED_ROLE_RE = re.compile(r"^arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([^/]+)/(.+)$")
_ROLE_RE = re.compile(r"^arn:(aws[\w-]*):iam::(\d{12}):role/(?:.*/)?([^/]+)$")


def root_arn(account: str) -> str:
    """Return the ARN of an account's root principal.

    Args:
        account: the account ID.

    Returns:
        ``arn:aws:iam::<account>:root``.
    """
    return f"arn:aws:iam::{account}:root"


def is_root(caller: Caller) -> bool:
    """Tell whether the caller is an account's root user.

    Args:
        caller: the caller.

    Returns:
        True for ``arn:...:iam::<account>:root``.
    """
    return caller.arn.endswith(":root") and ":iam::" in caller.arn


def principal_arn(caller: Caller) -> str:
    """Return ``aws:PrincipalArn``: for an assumed-role session, the role's ARN.

    Args:
        caller: the caller.

    Returns:
        The principal ARN policies compare against.
    """
    m = _ASSUMED_ROLE_RE.match(caller.arn)
    if m:
        return f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}"
    return caller.arn


def _same_role(pattern: str, caller_arn: str) -> bool:
    role = _ROLE_RE.match(pattern)
    session = _ASSUMED_ROLE_RE.match(caller_arn)
    return bool(role and session and role.group(2) == session.group(2) and role.group(3) == session.group(3))


def match_principals(principals: Principals, caller: Caller) -> Match | None:
    """Tell how a Principal element names the caller.

    Args:
        principals: the element.
        caller: the caller.

    Returns:
        ``direct`` when the element names the caller itself (or ``*``, or the caller's role, or
        the caller is the root user of a named account); ``account`` when it names the caller's
        account only (an IAM user or role of that account: its IAM policies must allow too);
        None when it does not name the caller.
    """
    if principals.anyone:
        return "direct"
    if caller.identity_type == "AWSService":
        return "direct" if caller.arn in principals.service or caller.principal_id in principals.service else None
    account_hit = False
    for arn in principals.aws:
        if arn == caller.arn or _same_role(arn, caller.arn):
            return "direct"
        if arn == root_arn(caller.account) or (arn.endswith(f"::{caller.account}:root") and ":iam::" in arn):
            if is_root(caller):
                return "direct"
            account_hit = True
    return "account" if account_hit else None
