"""When was a key last used? CloudTrail LookupEvents over the last 90 days.

LookupEvents returns management events newest first; KMS cryptographic calls are read-only
management events, so the first successful cryptographic call found is the last use.
Management calls on the key (DescribeKey, ScheduleKeyDeletion, ...) and refused calls are skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

LOOKBACK_DAYS = 90
MAX_PAGES = 20  # 50 events a page; LookupEvents allows 2 requests a second per account and region
CRYPTOGRAPHIC_OPERATIONS = frozenset(
    {
        "Decrypt",
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
        "DeriveSharedSecret",
    }
)


@dataclass(frozen=True)
class LastUse:
    """One successful cryptographic call.

    Args:
        event_time: when it happened.
        operation: the operation (``Decrypt``, ...).
        principal: who made it (userIdentity ARN, else invokedBy, else the user name).
        invoked_by: the service that made it on the principal's behalf, if any.
        event_id: CloudTrail's event ID.
    """

    event_time: datetime
    operation: str
    principal: str
    invoked_by: str
    event_id: str


@dataclass(frozen=True)
class LastUseSearch:
    """The result of the search.

    Args:
        last_use: the most recent successful cryptographic call, or None.
        since: the start of the searched window.
        complete: False when the search stopped early (page limit or an error).
        error: the error that stopped the search, if any.
    """

    last_use: LastUse | None
    since: datetime
    complete: bool = True
    error: str = ""


def _as_utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _use_from(event: dict[str, Any]) -> LastUse | None:
    operation = str(event.get("EventName") or "")
    if operation not in CRYPTOGRAPHIC_OPERATIONS:
        return None
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except (TypeError, ValueError):
        record = {}
    if not isinstance(record, dict) or record.get("errorCode"):
        return None
    identity = record.get("userIdentity") if isinstance(record.get("userIdentity"), dict) else {}
    assert isinstance(identity, dict)
    when = _as_utc(event.get("EventTime")) or _as_utc(record.get("eventTime"))
    if when is None:
        return None
    invoked_by = str(identity.get("invokedBy") or "")
    principal = str(identity.get("arn") or invoked_by or event.get("Username") or "unknown")
    return LastUse(when, operation, principal, invoked_by, str(event.get("EventId") or record.get("eventID") or ""))


def find_last_use(cloudtrail: Any, key_arn: str, now: datetime, *, skip_event_id: str = "") -> LastUseSearch:
    """Find the key's most recent successful cryptographic use in CloudTrail event history.

    Args:
        cloudtrail: a boto3 CloudTrail client in the key's region.
        key_arn: the key ARN (CloudTrail's resource name for KMS keys).
        now: the end of the window.
        skip_event_id: a CloudTrail event ID to ignore (the triggering call).

    Returns:
        The search result; AWS errors end the search early and are reported, not raised.
    """
    since = now - timedelta(days=LOOKBACK_DAYS)
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": key_arn}],
        "StartTime": since,
        "EndTime": now,
        "MaxResults": 50,
    }
    try:
        for _page in range(MAX_PAGES):
            response = cloudtrail.lookup_events(**params)
            for event in response.get("Events", []):
                if skip_event_id and event.get("EventId") == skip_event_id:
                    continue
                use = _use_from(event)
                if use is not None:
                    return LastUseSearch(use, since)
            token = response.get("NextToken")
            if not token:
                return LastUseSearch(None, since)
            params["NextToken"] = token
    except (ClientError, BotoCoreError) as error:
        return LastUseSearch(None, since, complete=False, error=f"LookupEvents: {error}")
    return LastUseSearch(None, since, complete=False, error=f"stopped after {MAX_PAGES} pages")
