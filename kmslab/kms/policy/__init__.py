"""The KMS policy language: key policies, IAM policies and grants.

Entry points the engine calls:

* :func:`default_key_policy`: the policy AWS gives a key created without one.
* :func:`validate_key_policy`: refuse a malformed document (MalformedPolicyDocumentException).
* :func:`check_lockout`: the policy lockout safety check.

The evaluator itself (:func:`parse_policy`, :func:`evaluate_policy`, :func:`request_context`,
the grant helpers) is used by :mod:`kmslab.kms.authz`, and works on a policy dict taken from a
synthesized CloudFormation template as well as on JSON text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from kmslab.kms.errors import LimitExceededException, MalformedPolicyDocumentException
from kmslab.kms.policy._conditions import Operator, check_key, failing_condition, parse_operator
from kmslab.kms.policy._context import encryption_context, request_context
from kmslab.kms.policy._document import (
    INVALID_PRINCIPALS,
    NO_PRINCIPAL,
    Policy,
    Principals,
    Statement,
    parse_policy,
)
from kmslab.kms.policy._evaluate import PolicyResult, StatementRef, evaluate_policy
from kmslab.kms.policy._match import arn_match, glob_match
from kmslab.kms.policy._principals import is_root, match_principals, principal_arn, root_arn
from kmslab.kms.policy.grants import (
    NEW_GRANT_CONSTRAINTS_KEY,
    constraint_at_least_as_strict,
    constraints_hold,
    grant_allows,
    may_retire,
)
from kmslab.kms.seams import AuthorizationRequest, Caller

__all__ = [
    "INVALID_PRINCIPALS",
    "LOCKOUT_MESSAGE",
    "MAX_POLICY_BYTES",
    "NEW_GRANT_CONSTRAINTS_KEY",
    "NO_PRINCIPAL",
    "Operator",
    "Policy",
    "PolicyResult",
    "Principals",
    "Statement",
    "StatementRef",
    "arn_match",
    "check_key",
    "check_lockout",
    "constraint_at_least_as_strict",
    "constraints_hold",
    "default_key_policy",
    "encryption_context",
    "evaluate_policy",
    "failing_condition",
    "glob_match",
    "grant_allows",
    "is_root",
    "match_principals",
    "may_retire",
    "parse_operator",
    "parse_policy",
    "principal_arn",
    "request_context",
    "root_arn",
    "validate_key_policy",
]

MAX_POLICY_BYTES = 32768
#: AWS KMS's message when a new key policy would lock the caller out (PutKeyPolicy/CreateKey).
LOCKOUT_MESSAGE = "The new key policy will not allow you to update the key policy in the future."
_ALLOWED_CHARS = re.compile(r"^[\t\n\r\u0020-\u00ff]*$")


def default_key_policy(account: str) -> str:
    """Return the key policy AWS KMS gives a key created without one.

    It has one statement that lets the account (and so IAM policies) use and manage the key.

    Args:
        account: the account ID that owns the key.

    Returns:
        The policy document as JSON text.
    """
    doc = {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    return json.dumps(doc, indent=2)


def validate_key_policy(text: str | Mapping[str, Any]) -> dict[str, Any]:
    """Parse a key policy and refuse a malformed one.

    Checks: size (32 KiB), the characters AWS allows (printable ASCII and Latin-1, tab, LF, CR),
    JSON, Version/Id/Statement, Effect values, a principal in every statement, well-formed
    principals (account IDs, IAM user/role/root ARNs, assumed-role ARNs, ``*``, service names),
    known condition operators.

    Args:
        text: the policy document (JSON text, or a dict such as a CloudFormation ``KeyPolicy``).

    Returns:
        The parsed document (a dict).

    Raises:
        LimitExceededException: the document is larger than 32768 bytes (AWS returns this one).
        MalformedPolicyDocumentException: the document is not a valid key policy.
    """
    if isinstance(text, str):
        if len(text.encode()) > MAX_POLICY_BYTES:
            raise LimitExceededException(f"The key policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes.")
        if not _ALLOWED_CHARS.match(text):
            raise MalformedPolicyDocumentException("The key policy contains characters that are not allowed.")
        parse_policy(text, kind="key")
        loaded: dict[str, Any] = json.loads(text)
        return loaded
    parse_policy(text, kind="key")
    return dict(text)


def check_lockout(text: str | Mapping[str, Any], *, caller: Caller, account: str, key_arn: str | None = None) -> None:
    """Apply the policy lockout safety check.

    The new policy must let the caller make a later PutKeyPolicy request: an Allow statement
    must name the caller itself (or ``*``), or the account when the caller is an IAM principal
    of that account (then IAM policies can allow it), and no Deny statement may apply.
    Conditions are evaluated with the caller's global keys (a PutKeyPolicy request has no
    encryption context).

    Args:
        text: the new key policy.
        caller: the principal that sets it.
        account: the account that owns the key.
        key_arn: the key's ARN when known (PutKeyPolicy); None matches any Resource (CreateKey).

    Raises:
        MalformedPolicyDocumentException: the policy is malformed, or the caller could not change it afterwards.
    """
    validate_key_policy(text)
    policy = parse_policy(text, kind="key")
    request = AuthorizationRequest(caller=caller, action="kms:PutKeyPolicy", region="", key_arn=key_arn)
    result = evaluate_policy(
        policy,
        source="key policy",
        caller=caller,
        action="kms:PutKeyPolicy",
        resource=key_arn,
        context=request_context(request),
    )
    if result.denies or not result.allows:
        raise MalformedPolicyDocumentException(LOCKOUT_MESSAGE)
    if all(ref.via_account for ref in result.allows) and caller.account != account:
        raise MalformedPolicyDocumentException(LOCKOUT_MESSAGE)
