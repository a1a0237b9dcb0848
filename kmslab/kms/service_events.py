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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

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
