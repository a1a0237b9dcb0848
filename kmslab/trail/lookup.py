"""CloudTrail's LookupEvents API over recorded KMS records.

:func:`lookup_events` takes the request body as botocore sends it (``StartTime``/``EndTime`` in
epoch seconds) and returns the response body CloudTrail sends back: newest event first, at most
one lookup attribute, 1-50 results per page, an opaque ``NextToken`` bound to the query.
:func:`lookup_service` wraps it as a handler the local HTTP endpoint mounts for the
``com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101`` target prefix. With identities, the
handler first authorizes the caller as AWS does: ``cloudtrail:LookupEvents`` must be allowed by
the caller's IAM (identity-based) policies, CloudTrail having no resource-based policy for it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from kmslab.trail.errors import (
    CloudTrailAccessDeniedException,
    InvalidEventCategoryException,
    InvalidLookupAttributesException,
    InvalidMaxResultsException,
    InvalidNextTokenException,
    InvalidTimeRangeException,
    UnknownCloudTrailOperation,
)

if TYPE_CHECKING:
    from kmslab.kms.authz.identities import IdentityStore

TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
LOOKUP_ACTION = "cloudtrail:LookupEvents"
MAX_RESULTS = 50


def _username(record: Mapping[str, Any]) -> str | None:
    identity = record.get("userIdentity") or {}
    kind = identity.get("type")
    if kind == "Root":
        return "root"
    if kind == "AWSService":
        return identity.get("invokedBy")
    if identity.get("userName"):
        return str(identity["userName"])
    arn = identity.get("arn")
    return str(arn).rsplit("/", 1)[-1] if arn else None


def _resources(record: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"ResourceType": str(r.get("type", "AWS::KMS::Key")), "ResourceName": str(r.get("ARN", ""))}
        for r in record.get("resources") or []
    ]


def _epoch(event_time: str) -> float:
    return datetime.strptime(event_time, "%Y-%m-%dT%H:%M:%S%z").timestamp()


_ATTRIBUTES: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "EventId": lambda r: [str(r.get("eventID"))],
    "EventName": lambda r: [str(r.get("eventName"))],
    "ReadOnly": lambda r: [str(bool(r.get("readOnly"))).lower()],
    "Username": lambda r: [u] if (u := _username(r)) else [],
    "ResourceType": lambda r: [x["ResourceType"] for x in _resources(r)],
    "ResourceName": lambda r: [x["ResourceName"] for x in _resources(r)],
    "EventSource": lambda r: [str(r.get("eventSource"))],
    "AccessKeyId": lambda r: [str(k)] if (k := (r.get("userIdentity") or {}).get("accessKeyId")) else [],
}


def _attribute_filter(params: Mapping[str, Any]) -> tuple[str, str] | None:
    attributes = params.get("LookupAttributes") or []
    if not isinstance(attributes, list):
        raise InvalidLookupAttributesException("LookupAttributes must be a list.")
    if len(attributes) > 1:
        raise InvalidLookupAttributesException("You cannot use more than one lookup attribute in a request.")
    if not attributes:
        return None
    attribute = attributes[0]
    key = attribute.get("AttributeKey") if isinstance(attribute, Mapping) else None
    value = attribute.get("AttributeValue") if isinstance(attribute, Mapping) else None
    if key not in _ATTRIBUTES:
        raise InvalidLookupAttributesException(f"Lookup attribute key {key!r} is not valid.")
    if not isinstance(value, str) or not value:
        raise InvalidLookupAttributesException("A lookup attribute value must be a non-empty string.")
    return str(key), value


def _time_bound(params: Mapping[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise InvalidTimeRangeException(f"{name} is not a valid timestamp.")


def _query_fingerprint(params: Mapping[str, Any]) -> str:
    bound = {k: params.get(k) for k in ("LookupAttributes", "StartTime", "EndTime", "EventCategory")}
    return hashlib.sha256(json.dumps(bound, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _encode_token(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "q": fingerprint}).encode()).decode()


def _decode_token(token: Any, fingerprint: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset = int(data["o"])
        if data["q"] != fingerprint or offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise InvalidNextTokenException("Invalid NextToken.") from None
    return offset


def _max_results(params: Mapping[str, Any]) -> int:
    value = params.get("MaxResults", MAX_RESULTS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RESULTS:
        raise InvalidMaxResultsException("MaxResults must be between 1 and 50.")
    return value


def to_lookup_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return LookupEvents' ``Event`` element for a record.

    Args:
        record: a CloudTrail record.

    Returns:
        ``EventId``, ``EventName``, ``ReadOnly``, ``AccessKeyId``, ``EventTime`` (epoch seconds),
        ``EventSource``, ``Username``, ``Resources`` and ``CloudTrailEvent`` (the record as JSON text).
    """
    event: dict[str, Any] = {
        "EventId": record.get("eventID"),
        "EventName": record.get("eventName"),
        "ReadOnly": str(bool(record.get("readOnly"))).lower(),
        "EventTime": _epoch(str(record["eventTime"])),
        "EventSource": record.get("eventSource"),
        "Resources": _resources(record),
        "CloudTrailEvent": json.dumps(record, separators=(",", ":")),
    }
    access_key = (record.get("userIdentity") or {}).get("accessKeyId")
    if access_key:
        event["AccessKeyId"] = access_key
    username = _username(record)
    if username:
        event["Username"] = username
    return event


def lookup_events(records: Iterable[Mapping[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    """Answer a LookupEvents request over some records.

    Args:
        records: CloudTrail records, in any order.
        params: the request body (``LookupAttributes``, ``StartTime``, ``EndTime``, ``EventCategory``,
            ``MaxResults``, ``NextToken``).

    Returns:
        ``{"Events": [...]}`` newest first, plus ``NextToken`` when more remain.

    Raises:
        InvalidLookupAttributesException: more than one attribute, an unknown key, or an empty value.
        InvalidTimeRangeException: StartTime is after EndTime, or a time is not a timestamp.
        InvalidMaxResultsException: MaxResults is outside 1..50.
        InvalidNextTokenException: the token was not issued for this query.
        InvalidEventCategoryException: EventCategory is not ``insight``.
    """
    attribute = _attribute_filter(params)
    start = _time_bound(params, "StartTime")
    end = _time_bound(params, "EndTime")
    if start is not None and end is not None and start > end:
        raise InvalidTimeRangeException("Start time must be before end time.")
    category = params.get("EventCategory")
    if category is not None and category != "insight":
        raise InvalidEventCategoryException("EventCategory must be insight.")
    limit = _max_results(params)
    fingerprint = _query_fingerprint(params)
    offset = _decode_token(params["NextToken"], fingerprint) if params.get("NextToken") else 0

    selected: list[tuple[float, int, Mapping[str, Any]]] = []
    if category != "insight":  # the local trail records management events only
        for order, record in enumerate(records):
            moment = _epoch(str(record["eventTime"]))
            if (start is not None and moment < start) or (end is not None and moment > end):
                continue
            if attribute is not None and attribute[1] not in _ATTRIBUTES[attribute[0]](record):
                continue
            selected.append((moment, order, record))
    selected.sort(key=lambda item: (item[0], item[1]), reverse=True)
    if offset > len(selected):
        raise InvalidNextTokenException("Invalid NextToken.")
    page = selected[offset : offset + limit]
    response: dict[str, Any] = {"Events": [to_lookup_event(record) for _, _, record in page]}
    if offset + limit < len(selected):
        response["NextToken"] = _encode_token(offset + limit, fingerprint)
    return response


class RecordSource(Protocol):
    """Anything that hands out recent CloudTrail records (a :class:`~kmslab.trail.TrailRecorder`)."""

    def records(self) -> list[dict[str, Any]]:
        """Return the recent records."""
        ...


ServiceHandler = Callable[[str, dict[str, Any], Any, str], dict[str, Any]]


def authorize_lookup(store: IdentityStore, caller: Any, region: str) -> None:
    """Allow a LookupEvents call by returning, or refuse it as AWS does.

    LookupEvents has no resource-level permissions and CloudTrail no resource-based policy, so the
    caller's IAM policies alone decide: an applicable Deny refuses, an applicable Allow permits,
    nothing is an implicit deny. The account's root user holds every permission of its account.

    Args:
        store: the identities and their IAM policies.
        caller: the signed caller (a :class:`~kmslab.kms.seams.Caller`), or None when unknown.
        region: the request's region (``aws:RequestedRegion``).

    Raises:
        CloudTrailAccessDeniedException: the caller may not call LookupEvents.
    """
    from kmslab.kms.policy import evaluate_policy, is_root, request_context  # noqa: PLC0415 - only with identities
    from kmslab.kms.seams import AuthorizationRequest, Caller  # noqa: PLC0415

    if not isinstance(caller, Caller):
        raise CloudTrailAccessDeniedException(f"The caller is not authorized to perform: {LOOKUP_ACTION}")
    head = f"User: {caller.arn} is not authorized to perform: {LOOKUP_ACTION}"
    context = request_context(AuthorizationRequest(caller=caller, action=LOOKUP_ACTION, region=region))
    allowed = is_root(caller) and caller.account == store.account
    for named in store.policies_for(caller):
        result = evaluate_policy(
            named.policy, source=named.name, caller=caller, action=LOOKUP_ACTION, resource="*", context=context
        )
        if result.denies:
            raise CloudTrailAccessDeniedException(f"{head} with an explicit deny in an identity-based policy")
        allowed = allowed or bool(result.allows)
    if not allowed:
        raise CloudTrailAccessDeniedException(
            f"{head} because no identity-based policy allows the {LOOKUP_ACTION} action"
        )


def lookup_service(source: RecordSource, *, identities: IdentityStore | None = None) -> ServiceHandler:
    """Return the CloudTrail service handler the local HTTP endpoint mounts.

    Mount it with ``server.add_service(TARGET_PREFIX, lookup_service(recorder, identities=store))``.

    Args:
        source: where records come from (a recorder).
        identities: the identities of an endpoint run with ``--identities``: the caller must then be
            allowed ``cloudtrail:LookupEvents`` by its IAM policies. None (every caller acts as the
            account root) authorizes nothing.

    Returns:
        ``handler(operation, body, caller, region) -> response body``; it raises the
        CloudTrail errors above (KMS-error subclasses, so the endpoint serializes them).
    """

    def handle(operation: str, body: dict[str, Any], caller: Any, region: str) -> dict[str, Any]:
        if operation != "LookupEvents":
            raise UnknownCloudTrailOperation(f"The local CloudTrail endpoint does not support {operation}.")
        if identities is not None:
            authorize_lookup(identities, caller, region)
        records = [r for r in source.records() if not region or r.get("awsRegion") == region]
        return lookup_events(records, body or {})

    return handle
