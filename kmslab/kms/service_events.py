"""KMS's own service events: what the local KMS does by itself as its clock passes.

AWS KMS records three kinds of events that no API request triggers, each as a CloudTrail
record with ``eventType: AwsServiceEvent`` and an EventBridge event from ``aws.kms``:

- ``DeleteKey`` when a waiting period ends (EventBridge ``KMS CMK Deletion``);
- ``RotateKey`` when key material rotates, automatically or on demand (``KMS CMK Rotation``);
- ``DeleteExpiredKeyMaterial`` when imported material expires (``KMS Imported Key Material Expiration``).

The engine hands a :class:`ServiceEvent` to each service sink (:meth:`LocalKms.add_service_sink`);
:mod:`kmslab.trail.events` turns it into the CloudTrail record and the EventBridge event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

_LOG = logging.getLogger(__name__)

DELETE_KEY = "DeleteKey"
ROTATE_KEY = "RotateKey"
DELETE_EXPIRED_KEY_MATERIAL = "DeleteExpiredKeyMaterial"
EVENT_NAMES = frozenset({DELETE_KEY, ROTATE_KEY, DELETE_EXPIRED_KEY_MATERIAL})


@dataclass(frozen=True)
class ServiceEvent:
    """One event KMS caused itself.

    Args:
        event_time: when it happened (the engine clock's time of the due event, UTC).
        event_name: ``DeleteKey``, ``RotateKey`` or ``DeleteExpiredKeyMaterial``.
        region: the key's region.
        account: the account that owns the key.
        key_id: the key ID.
        key_arn: the key ARN.
        key_origin: the key's Origin (``AWS_KMS``, ``EXTERNAL``).
        rotation_type: for RotateKey, ``AUTOMATIC`` or ``ON_DEMAND``.
        key_material_id: the material concerned (the new material of a rotation, the expired material).
        previous_key_material_id: for RotateKey, the material that was current before.
    """

    event_time: datetime
    event_name: str
    region: str
    account: str
    key_id: str
    key_arn: str
    key_origin: str
    rotation_type: str | None = None
    key_material_id: str | None = None
    previous_key_material_id: str | None = None

    def __post_init__(self) -> None:
        if self.event_name not in EVENT_NAMES:
            raise ValueError(f"unknown KMS service event {self.event_name!r}")


ServiceSink = Callable[[ServiceEvent], object]


class ServiceEventHub:
    """The engine's service sinks and the events waiting for them.

    Events are queued while the engine holds its lock (during a sweep or a request) and handed
    to the sinks afterwards, so a slow or failing sink never blocks or breaks the engine.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: tuple[ServiceSink, ...] = ()
        self._queue: list[ServiceEvent] = []

    def add(self, sink: ServiceSink) -> None:
        """Hand every later event to ``sink``.

        Args:
            sink: a callable taking one :class:`ServiceEvent`.
        """
        with self._lock:
            self._sinks = (*self._sinks, sink)

    def remove(self, sink: ServiceSink) -> None:
        """Stop handing events to ``sink`` (no error if it was not added).

        Args:
            sink: a sink given to :meth:`add`.
        """
        with self._lock:
            self._sinks = tuple(s for s in self._sinks if s != sink)

    def queue(self, event: Callable[[], ServiceEvent]) -> None:
        """Queue an event, built only when a sink will receive it.

        Args:
            event: builds the event.
        """
        if self._sinks:
            with self._lock:
                self._queue.append(event())

    @property
    def pending(self) -> int:
        """How many events wait to be handed out."""
        return len(self._queue)

    def deliver(self) -> None:
        """Hand every queued event to every sink (a failing sink is logged and skipped)."""
        with self._lock:
            events, self._queue = self._queue, []
            sinks = self._sinks
        for event in events:
            for sink in sinks:
                try:
                    sink(event)
                except Exception:
                    _LOG.exception("service sink %r failed on %s", sink, event.event_name)
