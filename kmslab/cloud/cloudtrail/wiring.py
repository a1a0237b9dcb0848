"""How the local cloud assembles its CloudTrail: the service, its digest keys and its log file delivery."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kmslab.cloud.cloudtrail.data_events import S3DataEvents
from kmslab.cloud.cloudtrail.delivery import LogDelivery
from kmslab.cloud.cloudtrail.keyfile import SavedDigestKeys
from kmslab.cloud.cloudtrail.keys import DigestKeyStore
from kmslab.cloud.cloudtrail.logs_delivery import LogsDelivery, LogsSink
from kmslab.cloud.cloudtrail.service import CloudTrailService
from kmslab.cloud.services.docstore import DocStore
from kmslab.iam import CloudIdentities
from kmslab.kms import LocalKms
from kmslab.trail import TrailRecorder

if TYPE_CHECKING:
    from kmslab.cloud.s3 import S3Service


def cloudtrail_service(
    *, docs: DocStore, kms: LocalKms, identities: CloudIdentities, account: str, s3: S3Service, recorder: TrailRecorder
) -> CloudTrailService:
    """Build the gateway's CloudTrail service on the cloud's stores, delivering the recorder's log files.

    Args:
        docs: where trails persist.
        kms: the local KMS.
        identities: the callers and roles.
        account: the account.
        s3: the local S3 (the trails' buckets).
        recorder: the cloud's CloudTrail recorder (LookupEvents, delivery).

    Returns:
        The service.
    """
    keys = DigestKeyStore()
    saved = SavedDigestKeys(keys, docs, kms)
    service = CloudTrailService(
        docs,
        kms=kms,
        identities=identities,
        account=account,
        buckets=s3.store.bucket,
        keys=keys,
        records=recorder,
        on_keys=saved.save_if_changed,
    )
    logs = LogsDelivery(identities, account)
    service.delivery = LogDelivery(service.trails, s3, keys, account, on_keys=saved.save_if_changed, logs=logs)
    recorder.add_delivery(service.delivery)
    return service


def connect_logs(service: CloudTrailService, sink: LogsSink) -> None:
    """Send the records of trails with a CloudWatch Logs group to that group through ``sink``.

    Args:
        service: the cloud's CloudTrail.
        sink: puts log events (the alert path's, so the group's metric filters see them).
    """
    delivery = service.delivery
    if isinstance(delivery, LogDelivery) and delivery.logs is not None:
        delivery.logs.sink = sink


def with_data_events(service: CloudTrailService, s3: S3Service, recorder: TrailRecorder) -> S3DataEvents:
    """Wrap the gateway's S3 module so object-level calls become data events for the trails that select them.

    Args:
        service: the cloud's CloudTrail (its trails).
        s3: the local S3.
        recorder: the cloud's recorder (journals and delivers the records).

    Returns:
        The S3 module to serve.
    """
    return S3DataEvents(s3, trails=service.trails, record=recorder.record, account=service.account)
