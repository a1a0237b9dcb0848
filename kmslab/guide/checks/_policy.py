"""Small readers of key policies and KMS lookups shared by the chapter checks."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from botocore.exceptions import ClientError

__all__ = ["actions", "allows", "describe", "key_policy", "principals", "statements"]


def describe(kms: Any, key: str) -> dict[str, Any] | None:
    """The key's metadata, or None when the key or alias does not exist.

    Args:
        kms: A KMS client.
        key: A key ID, key ARN or alias name.

    Returns:
        ``KeyMetadata``, or None for ``NotFoundException``.

    Raises:
        ClientError: Any other service error (the framework turns it into a hint).
    """
    try:
        return dict(kms.describe_key(KeyId=key)["KeyMetadata"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NotFoundException":
            return None
        raise


def key_policy(kms: Any, key_arn: str) -> dict[str, Any]:
    """The key's ``default`` key policy as a document.

    Args:
        kms: A KMS client.
        key_arn: The key's ARN (GetKeyPolicy takes no alias).

    Returns:
        The parsed policy.
    """
    return dict(json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"]))


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """The policy's statements as a list (a single statement may be written as an object).

    Args:
        policy: A policy document.

    Returns:
        The statements.
    """
    found = policy.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def principals(statement: dict[str, Any]) -> list[str]:
    """The AWS principals a statement names (``*`` for everyone).

    Args:
        statement: A policy statement.

    Returns:
        The principal ARNs (or ``*``).
    """
    value = statement.get("Principal", [])
    if value == "*":
        return ["*"]
    if isinstance(value, dict):
        value = value.get("AWS", [])
    return [value] if isinstance(value, str) else list(value)


def actions(statement: dict[str, Any]) -> list[str]:
    """The actions of a statement.

    Args:
        statement: A policy statement.

    Returns:
        The action patterns.
    """
    value = statement.get("Action", [])
    return [value] if isinstance(value, str) else list(value)


def allows(statement: dict[str, Any], action: str) -> bool:
    """Whether one of the statement's action patterns matches ``action`` (case-insensitive, ``*`` wildcards).

    Args:
        statement: A policy statement.
        action: An action such as ``kms:Decrypt``.

    Returns:
        True when it matches.
    """
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in actions(statement))
