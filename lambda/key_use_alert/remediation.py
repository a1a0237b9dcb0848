"""The optional remediation: cancel the deletion of a key that is still in use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


@dataclass(frozen=True)
class Remediation:
    """What the function did about the key.

    Args:
        attempted: whether CancelKeyDeletion was called.
        succeeded: whether the deletion is now cancelled.
        state_after: the key state after the attempt, if known (KMS leaves a cancelled key ``Disabled``).
        detail: one line for the alert.
    """

    attempted: bool
    succeeded: bool
    state_after: str | None
    detail: str


def cancel_deletion(kms: Any, key_id: str, state: str | None) -> Remediation:
    """Cancel a key's scheduled deletion, if it is still pending.

    Args:
        kms: a boto3 KMS client in the key's region.
        key_id: the key ID.
        state: the key state DescribeKey reported (None if unknown).

    Returns:
        What happened; never raises for AWS errors (the alert reports them).
    """
    if state is not None and state != "PendingDeletion":
        return Remediation(False, False, state, f"not attempted: the key is {state}, not PendingDeletion")
    try:
        kms.cancel_key_deletion(KeyId=key_id)
    except (ClientError, BotoCoreError) as error:
        code = error.response.get("Error", {}).get("Code", "Error") if isinstance(error, ClientError) else ""
        return Remediation(True, False, state, f"CancelKeyDeletion failed: {code or type(error).__name__} {error}")
    state_after: str | None = None
    try:
        state_after = kms.describe_key(KeyId=key_id)["KeyMetadata"].get("KeyState")
    except (ClientError, BotoCoreError):
        state_after = None
    return Remediation(True, True, state_after, f"deletion cancelled; the key is now {state_after or 'Disabled'}")
