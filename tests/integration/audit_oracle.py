"""What each of the kit's named queries must return, computed in Python from the CloudTrail records themselves.

Each function reads the query's SQL (``kmslab/audit/queries/*.sql``) the way Athena does, over the records the
trail delivered: ``LEFT JOIN UNNEST(resources)`` gives one row per resource (one row with a NULL ARN when there
is none), ``CROSS JOIN`` drops records without resources, ``coalesce`` and ``json_extract_scalar`` as in Trino.
Values are text, as ``GetQueryResults`` returns them (NULL is None). Rows are compared as multisets: the queries
order by time with ties, and ties come in any order.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

Row = tuple[str | None, ...]
Record = dict[str, Any]

CRYPTO = [
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "Sign",
    "Verify",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
]
LIFECYCLE = [
    "CreateKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "DeleteKey",
    "DisableKey",
    "EnableKey",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "RotateKeyOnDemand",
    "PutKeyPolicy",
    "CreateGrant",
    "RetireGrant",
    "RevokeGrant",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ReplicateKey",
    "UpdatePrimaryRegion",
    "UpdateKeyDescription",
]


def _principal(r: Record) -> str | None:
    who = r.get("userIdentity") or {}
    return who.get("arn") or who.get("invokedBy")


def _arns(r: Record, *, left: bool) -> list[tuple[str | None, str | None]]:
    found = [(x.get("ARN"), x.get("type")) for x in r.get("resources") or []]
    return found or ([(None, None)] if left else [])


def _json_scalar(document: Any, *path: str) -> str | None:
    value = document
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _n(value: int) -> str:
    return str(value)


def access_denied_calls(records: list[Record]) -> list[Row]:
    return [
        (
            r["eventTime"],
            r["eventName"],
            arn,
            _principal(r),
            r["userIdentity"].get("type"),
            r.get("sourceIPAddress"),
            r.get("errorMessage"),
        )
        for r in records
        if r.get("errorCode") in ("AccessDenied", "AccessDeniedException")
        for arn, _ in _arns(r, left=True)
    ]


def key_last_used(records: list[Record]) -> list[Row]:
    """(key_arn, last_used, uses): ``max_by`` over tied times is checked apart."""
    uses: dict[str, list[Record]] = {}
    for r in records:
        if r.get("errorCode") is None and r["eventName"] in CRYPTO:
            for arn, _ in _arns(r, left=False):
                uses.setdefault(str(arn), []).append(r)
    return [(arn, max(x["eventTime"] for x in rs), _n(len(rs))) for arn, rs in uses.items()]


def key_lifecycle_events(records: list[Record]) -> list[Row]:
    return [
        (
            r["eventTime"],
            r["eventName"],
            arn or _json_scalar(r.get("responseElements"), "keyMetadata", "arn"),
            _principal(r),
            r.get("errorCode"),
            _json_scalar(r.get("requestParameters"), "pendingWindowInDays"),
            _json_scalar(r.get("responseElements"), "deletionDate"),
        )
        for r in records
        if r["eventName"] in LIFECYCLE
        for arn, _ in _arns(r, left=True)
    ]


def _grouped(records: Iterable[Record], key: Callable[[Record], Any]) -> dict[Any, list[Record]]:
    groups: dict[Any, list[Record]] = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return groups


def _failed(rs: list[Record]) -> str:
    return _n(sum(1 for r in rs if r.get("errorCode") is not None))


def _distinct(values: Iterable[Any]) -> str:
    return _n(len({v for v in values if v is not None}))


def kms_calls_by_key(records: list[Record]) -> list[Row]:
    rows = [(arn, r) for r in records for arn, kind in _arns(r, left=False) if kind == "AWS::KMS::Key"]
    groups = _grouped(rows, lambda pair: pair[0])
    return [
        (
            arn,
            _n(len(pairs)),
            _failed([r for _, r in pairs]),
            _distinct(r["eventName"] for _, r in pairs),
            _distinct(_principal(r) for _, r in pairs),
            min(r["eventTime"] for _, r in pairs),
            max(r["eventTime"] for _, r in pairs),
        )
        for arn, pairs in groups.items()
    ]


def kms_calls_by_operation(records: list[Record]) -> list[Row]:
    return [
        (operation, _n(len(rs)), _failed(rs), _distinct(_principal(r) for r in rs))
        for operation, rs in _grouped(records, lambda r: r["eventName"]).items()
    ]


def kms_calls_by_principal(records: list[Record]) -> list[Row]:
    groups = _grouped(records, lambda r: (_principal(r), r["userIdentity"].get("type")))
    return [
        (
            principal,
            kind,
            _n(len(rs)),
            _failed(rs),
            _distinct(r["eventName"] for r in rs),
            max(r["eventTime"] for r in rs),
        )
        for (principal, kind), rs in groups.items()
    ]


def kms_failed_calls(records: list[Record]) -> list[Row]:
    return [
        (
            r["eventTime"],
            r["eventName"],
            r.get("errorCode"),
            r.get("errorMessage"),
            arn,
            _principal(r),
            r.get("sourceIPAddress"),
            r.get("requestID"),
        )
        for r in records
        if r.get("errorCode") is not None
        for arn, _ in _arns(r, left=True)
    ]


def pending_deletion_key_use(records: list[Record]) -> list[Row]:
    return [
        (
            r["eventTime"],
            arn,
            r["eventName"],
            _principal(r),
            r.get("sourceIPAddress"),
            r.get("userAgent"),
            r.get("errorMessage"),
        )
        for r in records
        if "is pending deletion" in (r.get("errorMessage") or "")
        for arn, _ in _arns(r, left=False)
    ]


def s3_sse_kms_activity(records: list[Record]) -> list[Row]:
    return [
        (
            r["eventTime"],
            r["eventName"],
            _json_scalar(r.get("requestParameters"), "encryptionContext", "aws:s3:arn"),
            arn,
            r["userIdentity"].get("arn"),
            r.get("errorCode"),
        )
        for r in records
        if r["userIdentity"].get("invokedBy") == "s3.amazonaws.com" or r.get("sourceIPAddress") == "s3.amazonaws.com"
        for arn, _ in _arns(r, left=True)
    ]


#: query name -> (expected rows, the result columns they are compared on)
ORACLES: dict[str, tuple[Callable[[list[Record]], list[Row]], tuple[str, ...] | None]] = {
    "access_denied_calls": (access_denied_calls, None),
    "key_last_used": (key_last_used, ("key_arn", "last_used", "uses")),
    "key_lifecycle_events": (key_lifecycle_events, None),
    "kms_calls_by_key": (kms_calls_by_key, None),
    "kms_calls_by_operation": (kms_calls_by_operation, None),
    "kms_calls_by_principal": (kms_calls_by_principal, None),
    "kms_failed_calls": (kms_failed_calls, None),
    "pending_deletion_key_use": (pending_deletion_key_use, None),
    "s3_sse_kms_activity": (s3_sse_kms_activity, None),
}


def kms_records(files: Iterable[bytes]) -> list[Record]:
    """The KMS records of gzipped CloudTrail log files."""
    import gzip

    return [
        r
        for body in files
        for r in json.loads(gzip.decompress(body))["Records"]
        if r.get("eventSource") == "kms.amazonaws.com"
    ]


def multiset(rows: Iterable[Row]) -> Counter[Row]:
    return Counter(rows)
