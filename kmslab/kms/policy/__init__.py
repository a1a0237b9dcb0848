"""The KMS policy language: key policies, IAM policies and grants.

Public entry points used by the engine:

* :func:`default_key_policy`: the policy AWS gives a key created without one.
* :func:`validate_key_policy`: refuse a malformed document (MalformedPolicyDocumentException).
* :func:`check_lockout`: the policy lockout safety check.

(A first cut: the full evaluator arrives with the authorization work.)
"""

from __future__ import annotations

import json
from typing import Any

from kmslab.kms.errors import MalformedPolicyDocumentException
from kmslab.kms.seams import Caller

MAX_POLICY_BYTES = 32768


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


def validate_key_policy(text: str) -> dict[str, Any]:
    """Parse a key policy and refuse a malformed one.

    Args:
        text: the policy document.

    Returns:
        The parsed document.

    Raises:
        MalformedPolicyDocumentException: the document is not a valid key policy.
    """
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise MalformedPolicyDocumentException("The key policy exceeds the maximum size of 32768 bytes.")
    try:
        doc = json.loads(text)
    except ValueError:
        raise MalformedPolicyDocumentException("The policy document is not valid JSON.") from None
    if not isinstance(doc, dict) or "Statement" not in doc:
        raise MalformedPolicyDocumentException("The policy document must be a JSON object with a Statement.")
    return doc


def check_lockout(text: str, *, caller: Caller, account: str) -> None:
    """Apply the policy lockout safety check.

    Args:
        text: the new key policy.
        caller: the principal that sets it.
        account: the account that owns the key.

    Raises:
        MalformedPolicyDocumentException: the caller could not change the policy afterwards.
    """
    validate_key_policy(text)
