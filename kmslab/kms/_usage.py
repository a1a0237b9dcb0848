"""Last-usage tracking for GetKeyLastUsage, and the cheap identifiers of each call.

Every successful cryptographic operation stamps the keys it used with (operation, time,
request ID, CloudTrail eventID). The stamps live on the keys in memory; :class:`UsageLog`
remembers which keys changed so the engine writes them with its next transaction, on
close, or at most every :data:`FLUSH_SECONDS` (AWS documents GetKeyLastUsage as eventually
consistent; a crash loses at most that much usage history, never a key).
"""

from __future__ import annotations

import functools
import random
import time
from typing import TYPE_CHECKING

from kmslab.kms._records import uuid_text
from kmslab.kms._registry import Registry

if TYPE_CHECKING:
    from kmslab.kms._context import RequestContext

# Successful operations GetKeyLastUsage reports (botocore's KeyLastUsageTrackingOperation).
TRACKED = frozenset(
    {
        "Decrypt",
        "DeriveSharedSecret",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "ReEncrypt",
        "Sign",
        "Verify",
        "VerifyMac",
        "Encapsulate",
        "Decapsulate",
    }
)

#: write changed last-usage stamps at least this often (seconds).
FLUSH_SECONDS = 1.0

_random = random.Random()  # noqa: S311 - identifiers, not secrets


def new_event_number() -> int:
    """Return 128 random bits for an eventID (turned into text by :func:`kmslab.kms._records.uuid_text` when read).

    Returns:
        The number.
    """
    return _random.getrandbits(128)


def new_request_id() -> str:
    """Return a random version-4 UUID as text; cheaper than ``str(uuid.uuid4())`` on the per-call path.

    Returns:
        The request ID.
    """
    return uuid_text(_random.getrandbits(128))


@functools.lru_cache(maxsize=4096)
def key_ref(arn: str) -> tuple[str, str]:
    """Return (region, key ID) of a key ARN.

    Args:
        arn: a key ARN.

    Returns:
        The engine's key reference.
    """
    return arn.split(":", 4)[3], arn.rsplit("/", 1)[1]


class UsageLog:
    """Which keys' last-usage stamps changed since they were last written."""

    def __init__(self) -> None:
        self._dirty: set[tuple[str, str]] = set()
        self._written = time.monotonic()

    def note(self, registry: Registry, ctx: RequestContext, event_number: int) -> bool:
        """Stamp every key a successful call used.

        Args:
            registry: the endpoint's keys.
            ctx: the call.
            event_number: the call's eventID bits.

        Returns:
            Whether a write is due.
        """
        usage = (ctx.operation, ctx.now, ctx.request_id, event_number)
        dirty = self._dirty
        for arn in ctx.key_arns:
            ref = key_ref(arn)
            key = registry.key(*ref)
            if key is not None:
                key.last_usage = usage
                dirty.add(ref)
        return time.monotonic() - self._written >= FLUSH_SECONDS

    def take(self) -> set[tuple[str, str]]:
        """Return the changed keys and start afresh (call under the engine lock, then write them).

        Returns:
            (region, key ID) of the keys to write.
        """
        self._written = time.monotonic()
        dirty, self._dirty = self._dirty, set()
        return dirty

    def __bool__(self) -> bool:
        return bool(self._dirty)
