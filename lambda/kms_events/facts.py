"""Facts about a key a responder needs: its ARN, aliases, state and deletion date.

Gathering never fails: a lookup that errors (access denied, key gone, throttling) is
recorded in ``lookup_errors`` so the alert still goes out with what is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


@dataclass(frozen=True)
class KeyFacts:
    """What DescribeKey and ListAliases say about a key.

    Args:
        key_id: the key ID.
        key_arn: the key ARN (as known from the event when DescribeKey failed).
        state: the key state (``PendingDeletion``, ``Disabled``, ...), or None when unknown.
        aliases: the alias names that point to the key.
        deletion_date: when the key will be deleted, or None when it is not pending deletion.
        pending_window_days: the waiting period chosen when the deletion was scheduled, if known.
        description: the key's description.
        key_manager: ``CUSTOMER`` or ``AWS``, if known.
        lookup_errors: lookups that failed, each ``Operation: ErrorCode message``.
    """

    key_id: str
    key_arn: str
    state: str | None = None
    aliases: tuple[str, ...] = ()
    deletion_date: datetime | None = None
    pending_window_days: int | None = None
    description: str = ""
    key_manager: str | None = None
    lookup_errors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.key_id:
            raise ValueError("KeyFacts needs a key_id")
        if self.deletion_date is not None and self.deletion_date.tzinfo is None:
            raise ValueError("deletion_date must be timezone-aware")

    @property
    def display_name(self) -> str:
        """The first alias, else the key ID: how a person names the key."""
        return self.aliases[0] if self.aliases else self.key_id

    def days_left(self, now: datetime) -> int | None:
        """Whole days (rounded down) until the deletion date.

        Args:
            now: the current time (timezone-aware).

        Returns:
            The days left (0 when the date has passed), or None when no deletion is scheduled.
        """
        if self.deletion_date is None:
            return None
        seconds = (self.deletion_date - now).total_seconds()
        return max(0, math.floor(seconds / 86400))


def _error_text(operation: str, error: Exception) -> str:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{operation}: {info.get('Code', 'Error')} {info.get('Message', '')}".rstrip()
    return f"{operation}: {type(error).__name__} {error}".rstrip()


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def gather_key_facts(kms: Any, key_arn: str, key_id: str) -> KeyFacts:
    """Describe a key and list its aliases.

    Args:
        kms: a boto3 KMS client in the key's region.
        key_arn: the key ARN from the event (may be empty).
        key_id: the key ID from the event.

    Returns:
        The facts; lookups that failed are listed in ``lookup_errors``.
    """
    errors: list[str] = []
    metadata: dict[str, Any] = {}
    try:
        metadata = kms.describe_key(KeyId=key_arn or key_id)["KeyMetadata"]
    except (ClientError, BotoCoreError) as error:
        errors.append(_error_text("DescribeKey", error))
    resolved_id = str(metadata.get("KeyId") or key_id)
    aliases: list[str] = []
    try:
        paginator = kms.get_paginator("list_aliases")
        for page in paginator.paginate(KeyId=resolved_id):
            aliases.extend(str(a["AliasName"]) for a in page.get("Aliases", []) if a.get("AliasName"))
    except (ClientError, BotoCoreError) as error:
        errors.append(_error_text("ListAliases", error))
    window = metadata.get("PendingDeletionWindowInDays")
    return KeyFacts(
        key_id=resolved_id,
        key_arn=str(metadata.get("Arn") or key_arn),
        state=metadata.get("KeyState"),
        aliases=tuple(sorted(aliases)),
        deletion_date=_as_datetime(metadata.get("DeletionDate")),
        pending_window_days=int(window) if isinstance(window, int) else None,
        description=str(metadata.get("Description") or ""),
        key_manager=metadata.get("KeyManager"),
        lookup_errors=tuple(errors),
    )
