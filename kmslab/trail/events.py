"""CloudTrail records as EventBridge delivers them, KMS's own service events, and an in-process bus.

EventBridge wraps each CloudTrail management event in an "AWS API Call via CloudTrail"
event whose ``detail`` is the record. :class:`EventBus` delivers those events to local
handlers (the alerting Lambdas, tests) with EventBridge's pattern matching for the common
cases: exact values, ``prefix``, ``exists`` and ``anything-but``.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kmslab.kms.service_events import ServiceEvent

_LOGGER = logging.getLogger(__name__)

DETAIL_TYPE = "AWS API Call via CloudTrail"
#: the detail-type EventBridge gives a CloudTrail record whose eventType is AwsServiceEvent.
SERVICE_EVENT_DETAIL_TYPE = "AWS Service Event via CloudTrail"

EventHandler = Callable[[dict[str, Any]], object]


def to_eventbridge_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return the EventBridge event that carries a CloudTrail record.

    Args:
        record: a CloudTrail record (see :func:`kmslab.trail.to_cloudtrail_record`).

    Returns:
        ``{"version": "0", "id", "detail-type": "AWS API Call via CloudTrail", "source": "aws.<service>",
        "account", "time", "region", "resources": [], "detail": record}`` ("AWS Service Event via
        CloudTrail" for a record of ``eventType`` AwsServiceEvent).
    """
    source = str(record.get("eventSource", "kms.amazonaws.com")).removesuffix(".amazonaws.com")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": SERVICE_EVENT_DETAIL_TYPE if record.get("eventType") == "AwsServiceEvent" else DETAIL_TYPE,
        "source": f"aws.{source}",
        "account": record.get("recipientAccountId", ""),
        "time": record.get("eventTime", ""),
        "region": record.get("awsRegion", ""),
        "resources": [],
        "detail": dict(record),
    }


def matches(pattern: Mapping[str, Any] | None, event: Mapping[str, Any]) -> bool:
    """Tell whether an event matches an EventBridge event pattern.

    Supported: nested objects, lists of allowed values, ``{"prefix": s}``, ``{"suffix": s}``,
    ``{"equals-ignore-case": s}``, ``{"wildcard": "a*b"}``, ``{"exists": bool}``,
    ``{"anything-but": value | [values]}``. Any other operator raises, rather than silently never matching.

    Args:
        pattern: the pattern; None matches everything.
        event: the event.

    Returns:
        True when every field of the pattern matches.

    Raises:
        ValueError: the pattern uses an operator this matcher does not know.
    """
    if not pattern:
        return True
    for key, rule in pattern.items():
        present = key in event
        value = event.get(key)
        if isinstance(rule, Mapping):
            if not present or not isinstance(value, Mapping) or not matches(rule, value):
                return False
        elif isinstance(rule, list):
            if not _matches_any(rule, present, value):
                return False
        elif value != rule:
            return False
    return True


_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "prefix": lambda value, arg: value.startswith(arg),
    "suffix": lambda value, arg: value.endswith(arg),
    "equals-ignore-case": lambda value, arg: value.casefold() == arg.casefold(),
    "wildcard": lambda value, arg: re.fullmatch(".*".join(map(re.escape, arg.split("*"))), value, re.S) is not None,
}


def _matches_any(rules: list[Any], present: bool, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for rule in rules:
        if isinstance(rule, Mapping):
            if len(rule) != 1:
                raise ValueError(f"an EventBridge pattern operator has exactly one key, got {sorted(rule)}")
            (operator, arg), *_ = rule.items()
            if operator == "exists":
                if bool(arg) == (present and value is not None):
                    return True
            elif operator == "anything-but":
                banned = arg if isinstance(arg, list) else [arg]
                if present and all(v not in banned for v in values):
                    return True
            elif operator in _STRING_TESTS:
                test = _STRING_TESTS[operator]
                if present and any(isinstance(v, str) and test(v, arg) for v in values):
                    return True
            else:
                raise ValueError(f"unsupported EventBridge pattern operator {operator!r}")
        elif present and rule in values:
            return True
    return False


class EventBus:
    """Delivers events to subscribed handlers, in process; a failing handler never breaks the publisher."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[tuple[int, EventHandler, Mapping[str, Any] | None]] = []
        self._next_id = 0

    def subscribe(self, handler: EventHandler, *, pattern: Mapping[str, Any] | None = None) -> Callable[[], None]:
        """Deliver every future matching event to a handler.

        Args:
            handler: called with each EventBridge-shaped event.
            pattern: an EventBridge event pattern; None for every event.

        Returns:
            A function that unsubscribes the handler.
        """
        with self._lock:
            token = self._next_id
            self._next_id += 1
            self._subscribers.append((token, handler, pattern))

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s[0] != token]

        return unsubscribe

    def publish(self, event: Mapping[str, Any]) -> int:
        """Deliver one event to every matching handler.

        Args:
            event: the event.

        Returns:
            How many handlers took it without error.
        """
        with self._lock:
            subscribers = list(self._subscribers)
        delivered = 0
        for _, handler, pattern in subscribers:
            if not matches(pattern, event):
                continue
            try:
                handler(dict(event))
                delivered += 1
            except Exception:  # a subscriber's bug must never fail the KMS call that produced the event
                _LOGGER.exception("event handler %r failed on event %s", handler, event.get("id"))
        return delivered


# -- KMS's own service events ---------------------------------------------------------------------------

#: EventBridge detail-type of each KMS service event (AWS KMS developer guide, "Monitor KMS keys with
#: Amazon EventBridge"); KMS sends these directly, not via CloudTrail.
SERVICE_DETAIL_TYPES = {
    "DeleteKey": "KMS CMK Deletion",
    "RotateKey": "KMS CMK Rotation",
    "DeleteExpiredKeyMaterial": "KMS Imported Key Material Expiration",
}

_AWS_INTERNAL = "AWS Internal"


def service_event_record(event: ServiceEvent, *, event_id: str | None = None) -> dict[str, Any]:
    """Return the CloudTrail record (``eventType: AwsServiceEvent``) AWS logs for a KMS service event.

    Follows the examples of AWS's "Logging AWS KMS API calls" pages (DeleteKey, RotateKey,
    DeleteExpiredKeyMaterial): ``userIdentity`` is the account invoked by "AWS Internal", there are no
    request parameters, and ``serviceEventDetails`` names the key. Since December 2022 a DeleteKey record
    carries the key ARN in ``responseElements.keyId`` although no API returned it; that quirk is copied.

    Args:
        event: the service event.
        event_id: the event ID; a fresh UUID4 when None.

    Returns:
        A JSON-ready dict in CloudTrail's field order.
    """
    from kmslab.trail.record import EVENT_SOURCE, EVENT_VERSION, KEY_RESOURCE_TYPE, format_event_time

    details: dict[str, Any] = {"keyId": event.key_id}
    if event.event_name == "RotateKey" and event.rotation_type:
        details = {"rotationType": event.rotation_type, **details}
    if event.event_name != "DeleteKey" and event.key_material_id:
        details["keyMaterialId"] = event.key_material_id
    return {
        "eventVersion": EVENT_VERSION,
        "userIdentity": {"accountId": event.account, "invokedBy": _AWS_INTERNAL},
        "eventTime": format_event_time(event.event_time),
        "eventSource": EVENT_SOURCE,
        "eventName": event.event_name,
        "awsRegion": event.region,
        "sourceIPAddress": _AWS_INTERNAL,
        "userAgent": _AWS_INTERNAL,
        "requestParameters": None,
        "responseElements": {"keyId": event.key_arn} if event.event_name == "DeleteKey" else None,
        "eventID": event_id or str(uuid.uuid4()),
        "readOnly": False,
        "resources": [{"accountId": event.account, "type": KEY_RESOURCE_TYPE, "ARN": event.key_arn}],
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": event.account,
        "serviceEventDetails": details,
        "eventCategory": "Management",
    }


def service_eventbridge_event(event: ServiceEvent) -> dict[str, Any]:
    """Return the EventBridge event KMS sends directly for a service event (source ``aws.kms``).

    Args:
        event: the service event.

    Returns:
        ``{"version": "0", "id", "detail-type": "KMS CMK Deletion" | "KMS CMK Rotation" |
        "KMS Imported Key Material Expiration", "source": "aws.kms", "account", "time", "region",
        "resources": [key ARN], "detail": {"key-id", ...}}``.
    """
    from kmslab.trail.record import format_event_time

    detail: dict[str, Any] = {"key-id": event.key_id, "key-origin": event.key_origin}
    if event.event_name == "RotateKey":
        detail["rotation-type"] = event.rotation_type
        if event.previous_key_material_id:
            detail["previous-key-material-id"] = event.previous_key_material_id
        if event.key_material_id:
            detail["current-key-material-id"] = event.key_material_id
    elif event.event_name == "DeleteExpiredKeyMaterial" and event.key_material_id:
        detail["key-material-id"] = event.key_material_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": SERVICE_DETAIL_TYPES[event.event_name],
        "source": "aws.kms",
        "account": event.account,
        "time": format_event_time(event.event_time),
        "region": event.region,
        "resources": [event.key_arn],
        "detail": detail,
    }


class _Recorder(Protocol):
    bus: EventBus

    def record(self, record: dict[str, Any]) -> None: ...


class _ServiceEngine(Protocol):
    def add_service_sink(self, sink: Callable[[ServiceEvent], object]) -> None: ...


def attach_service_events(kms: _ServiceEngine, recorder: _Recorder) -> Callable[[ServiceEvent], None]:
    """Record KMS's own service events in a trail and publish their EventBridge events on its bus.

    Each service event becomes a CloudTrail record (written with the API-call records, and published as
    "AWS Service Event via CloudTrail") and, directly, its ``aws.kms`` event (``KMS CMK Deletion``, ...).

    Args:
        kms: the engine (:class:`kmslab.kms.LocalKms`).
        recorder: a :class:`kmslab.trail.TrailRecorder` (anything with ``record`` and ``bus``).

    Returns:
        The sink that was added (for ``remove_service_sink``).
    """

    def sink(event: ServiceEvent) -> None:
        try:
            recorder.record(service_event_record(event))
            recorder.bus.publish(service_eventbridge_event(event))
        except Exception:  # a sink must not break the engine's sweep
            _LOGGER.exception("could not record KMS service event %s", event.event_name)

    kms.add_service_sink(sink)
    return sink
