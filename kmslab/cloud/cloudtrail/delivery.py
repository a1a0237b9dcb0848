"""Log file delivery: the cloud's CloudTrail records, put into each logging trail's bucket as CloudTrail does.

The recorder hands over every log file it folds (:meth:`kmslab.trail.TrailRecorder.add_delivery`).
For each logging trail that covers the records' Region (its home Region, or every Region for a
multi-Region trail) and whose event selectors select them, one gzip log file is written to
``[prefix/]AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<id>.json.gz``
through the local S3, as ``cloudtrail.amazonaws.com`` with ``aws:SourceArn`` = the trail and
``x-amz-acl: bucket-owner-full-control``, so the bucket policy decides the write; with a KMS key,
as SSE-KMS under that key with the encryption context ``aws:cloudtrail:arn`` = the trail ARN (CloudTrail
User Guide, "Encrypting CloudTrail log files with AWS KMS keys"), so the key policy decides both
the write and every later read. A refused write is reported by GetTrailStatus
(``LatestDeliveryError``), as on AWS; the records stay in the cloud's trail folder. A trail with a
CloudWatch Logs group gets its records there too (:mod:`~kmslab.cloud.cloudtrail.logs_delivery`).

CloudTrail's own KMS calls for a delivery are recorded too, and delivered with the next file. A
file of nothing but service principals' calls waits for other records or ``max_delay`` (AWS
delivers about every 5 minutes), so deliveries do not feed themselves.

With log file validation, digest files (:mod:`~kmslab.cloud.cloudtrail.digest`) are put hourly
per trail and Region, or after every delivery with ``digest_every_delivery`` (tests), SSE-S3 as
CloudTrail writes them, with the signature in the object's metadata.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kmslab.cloud.cloudtrail.checks import SERVICE
from kmslab.cloud.cloudtrail.digest import LogFileEntry, log_file_key
from kmslab.cloud.cloudtrail.keys import DigestKeyStore
from kmslab.cloud.cloudtrail.logs_delivery import LogsDelivery
from kmslab.cloud.cloudtrail.models import DigestChain
from kmslab.cloud.cloudtrail.selectors import selects
from kmslab.cloud.cloudtrail.trails import Trail, TrailStore
from kmslab.cloud.errors import CloudError
from kmslab.kms import Caller

if TYPE_CHECKING:
    from kmslab.cloud.s3 import S3Service

_LOGGER = logging.getLogger(__name__)
#: how long a file of service principals' calls alone may wait for other records
MAX_DELAY = 300.0


def _by_service(record: dict[str, Any]) -> bool:
    return (record.get("userIdentity") or {}).get("type") == "AWSService"


class LogDelivery:
    """Puts the recorder's files into the logging trails' buckets, and their digests.

    Args:
        trails: the trails.
        s3: the local S3.
        keys: the digest signing keys.
        account: the account.
        clock: the current time.
        digest_every_delivery: put a digest after each delivery instead of hourly.
        on_keys: called after a digest was signed (a signing key may have been made: persist it).
        logs: the delivery to trails' CloudWatch Logs groups, if any.
    """

    def __init__(
        self,
        trails: TrailStore,
        s3: S3Service,
        keys: DigestKeyStore,
        account: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        digest_every_delivery: bool = False,
        on_keys: Callable[[], None] = lambda: None,
        logs: LogsDelivery | None = None,
    ) -> None:
        self.trails = trails
        self.logs = logs
        self.s3 = s3
        self.keys = keys
        self.account = account
        self.clock = clock
        self.digest_every_delivery = digest_every_delivery
        self.max_delay = MAX_DELAY
        self.on_keys = on_keys
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._waiting_since: float | None = None
        self._chains: dict[tuple[str, str], DigestChain] = {}
        self._status: dict[str, dict[str, Any]] = {}

    # -- the recorder's side -----------------------------------------------------------------

    def __call__(self, region: str, body: bytes) -> None:
        """Take one folded log file's records; deliver them when due.

        Args:
            region: the records' Region.
            body: the file's JSON.
        """
        records = json.loads(body)["Records"]
        with self._lock:
            self._pending += records
            if self._waiting_since is None:
                self._waiting_since = time.monotonic()
            due = any(not _by_service(r) for r in self._pending) or (
                time.monotonic() - self._waiting_since >= self.max_delay
            )
            if not due:
                return
            batch, self._pending, self._waiting_since = self._pending, [], None
        self.deliver(batch)
        self.tick()

    def deliver(self, records: list[dict[str, Any]]) -> None:
        """Deliver records to every logging trail that selects them.

        Args:
            records: CloudTrail records.
        """
        for trail in [t for t in self.trails.all() if t.logging]:
            by_region: dict[str, list[dict[str, Any]]] = {}
            for record in records:
                region = str(record.get("awsRegion", ""))
                if trail.covers(region) and selects(trail.doc, record):
                    by_region.setdefault(region, []).append(record)
            for region, chosen in sorted(by_region.items()):
                self._put_log_file(trail, region, chosen)
            if self.logs is not None and by_region:  # the trail's CloudWatch Logs group gets them too
                noted = self.logs.deliver(trail, [r for chosen in by_region.values() for r in chosen])
                if noted:
                    self._note(trail, **noted)

    def tick(self) -> None:
        """Put the digests that are due (hourly, or after every delivery)."""
        now = self.clock()
        with self._lock:
            chains = list(self._chains.items())
        for (arn, _), chain in chains:
            trail = next((t for t in self.trails.all() if t.arn == arn), None)
            if trail is None or not trail.logging or not trail.doc.get("LogFileValidationEnabled"):
                continue
            if chain.due(now) or (self.digest_every_delivery and chain.pending):
                self._put_digest(trail, chain, now)

    # -- the service's side ------------------------------------------------------------------

    def restart(self, trail: Trail) -> None:
        """End the trail's digest chains (logging started or stopped, settings changed).

        Args:
            trail: the trail.
        """
        with self._lock:
            for key in [k for k in self._chains if k[0] == trail.arn]:
                del self._chains[key]

    def status(self, trail: Trail) -> dict[str, Any]:
        """GetTrailStatus's delivery members for a trail.

        Args:
            trail: the trail.

        Returns:
            The members known so far.
        """
        with self._lock:
            return dict(self._status.get(trail.arn, {}))

    # -- internals ---------------------------------------------------------------------------

    def _caller(self, trail: Trail) -> Caller:
        return Caller(
            arn=SERVICE,
            account=self.account,
            identity_type="AWSService",
            principal_id=SERVICE,
            secure_transport=True,
            source_arn=trail.arn,
        )

    def _note(self, trail: Trail, **members: Any) -> None:
        with self._lock:
            self._status.setdefault(trail.arn, {}).update(members)

    def _put_log_file(self, trail: Trail, region: str, records: list[dict[str, Any]]) -> None:
        now = self.clock()
        raw = json.dumps({"Records": records}, separators=(",", ":")).encode()
        body = gzip.compress(raw, compresslevel=6, mtime=0)
        bucket, prefix = str(trail.doc["S3BucketName"]), trail.doc.get("S3KeyPrefix") or None
        key = log_file_key(account=self.account, region=region, when=now, prefix=prefix)
        headers = {"x-amz-acl": "bucket-owner-full-control", "content-type": "application/json"}
        encryption_context = None
        if trail.doc.get("KmsKeyId"):
            headers["x-amz-server-side-encryption"] = "aws:kms"
            headers["x-amz-server-side-encryption-aws-kms-key-id"] = str(trail.doc["KmsKeyId"])
            encryption_context = {"aws:cloudtrail:arn": trail.arn}
        attempt = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            self.s3.put_bytes(
                self._caller(trail),
                region,
                bucket,
                key,
                body,
                headers=headers,
                context={"aws:SourceArn": trail.arn, "aws:SourceAccount": self.account},
                encryption_context=encryption_context,
            )
        except CloudError as exc:
            _LOGGER.warning("CloudTrail could not deliver to s3://%s/%s: %s", bucket, key, exc.code)
            self._note(
                trail,
                LatestDeliveryError=exc.code,
                LatestDeliveryAttemptTime=attempt,
                LatestDeliveryAttemptSucceeded="",
            )
            return
        self._note(
            trail,
            LatestDeliveryTime=now.timestamp(),
            LatestDeliveryError=None,
            LatestDeliveryAttemptTime=attempt,
            LatestDeliveryAttemptSucceeded=attempt,
        )
        if trail.doc.get("LogFileValidationEnabled"):
            self._chain(trail, region, now).add(LogFileEntry.of(bucket, key, body))

    def _chain(self, trail: Trail, region: str, now: datetime) -> DigestChain:
        with self._lock:
            chain = self._chains.get((trail.arn, region))
            if chain is None:
                started = datetime.fromtimestamp(float(trail.doc.get("started") or now.timestamp()), UTC)
                chain = DigestChain(
                    trail.arn, str(trail.doc["S3BucketName"]), trail.doc.get("S3KeyPrefix") or None, region, started
                )
                self._chains[(trail.arn, region)] = chain
            return chain

    def _put_digest(self, trail: Trail, chain: DigestChain, now: datetime) -> None:
        # digest names carry seconds: two digests of a chain must end in different seconds
        end = max(now, chain.started + timedelta(seconds=1))
        digest = chain.close(end, self.keys)
        self.on_keys()
        headers = {
            "x-amz-acl": "bucket-owner-full-control",
            "x-amz-server-side-encryption": "AES256",  # digest files are SSE-S3, whatever the trail's key
            "content-type": "application/json",
            **{f"x-amz-meta-{k}": v for k, v in digest.metadata.items()},
        }
        try:
            self.s3.put_bytes(
                self._caller(trail),
                chain.source_region,
                digest.bucket,
                digest.key,
                digest.body,
                headers=headers,
                context={"aws:SourceArn": trail.arn, "aws:SourceAccount": self.account},
            )
        except CloudError as exc:
            self._note(trail, LatestDigestDeliveryError=exc.code)
            chain.restart(end)  # the signed digest is not in the bucket: the next one starts a new chain
            return
        self._note(trail, LatestDigestDeliveryTime=end.timestamp(), LatestDigestDeliveryError=None)
