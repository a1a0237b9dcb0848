"""CloudTrail digest files: built, hashed, chained and signed as CloudTrail does.

AWS references (CloudTrail User Guide): "CloudTrail digest file structure" for the location and
fields, and "Custom implementations of CloudTrail log file integrity validation" for the
signature. The data-signing string is, joined by ``\\n``:

1. ``digestEndTime`` exactly as written in the digest;
2. the digest's S3 path, ``<digestS3Bucket>/<digestS3Object>``;
3. the hex SHA-256 of the *uncompressed* digest file;
4. ``previousDigestSignature`` (hex), or ``null`` for the first digest of a chain.

CloudTrail signs that string with RSA (PKCS#1 v1.5, SHA-256) using the Region's private key and
stores the hex signature in the digest object's user metadata, ``signature``, with
``signature-algorithm: SHA256withRSA``. Each ``logFiles[]`` entry's ``hashValue`` is the hex
SHA-256 of the uncompressed log file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kmslab.cloud.cloudtrail.errors import InvalidDigestError
from kmslab.cloud.cloudtrail.keys import SIGNATURE_ALGORITHM, DigestKeyStore
from kmslab.trail.recorder import log_file_name

HASH_ALGORITHM = "SHA-256"
_NAME = re.compile(r"^[A-Za-z0-9._-]{3,128}$")


def timestamp(moment: datetime) -> str:
    """Return CloudTrail's digest time text (``2015-08-17T15:01:31Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def digest_key(
    *, account: str, source_region: str, home_region: str, trail_name: str, end: datetime, prefix: str | None = None
) -> str:
    """Return a digest file's S3 key.

    ``[prefix/]AWSLogs/<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/
    <account>_CloudTrail-Digest_<region>_<trail>_<home region>_<YYYYMMDDTHHmmssZ>.json.gz``, where
    ``<region>`` is the Region whose logs the digest covers and the date is the digest's end time.

    Args:
        account: the account that owns the logs.
        source_region: the Region of the logs.
        home_region: the trail's home Region.
        trail_name: the trail's name.
        end: the digest's end time.
        prefix: the trail's S3 key prefix, if any.

    Returns:
        The key.
    """
    end = end.astimezone(UTC)
    key = (
        f"AWSLogs/{account}/CloudTrail-Digest/{source_region}/{end:%Y/%m/%d}/"
        f"{account}_CloudTrail-Digest_{source_region}_{trail_name}_{home_region}_{end:%Y%m%dT%H%M%SZ}.json.gz"
    )
    return f"{prefix}/{key}" if prefix else key


def log_file_key(*, account: str, region: str, when: datetime, prefix: str | None = None) -> str:
    """Return a new log file's S3 key, as CloudTrail names it.

    ``[prefix/]AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
    <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 alphanumerics>.json.gz`` (CloudTrail User
    Guide, "Finding your CloudTrail log files"); the name comes from :mod:`kmslab.trail.recorder`,
    the same as the offline trail's files.

    Args:
        account: the account whose events the file holds.
        region: the Region of the events.
        when: the delivery time.
        prefix: the trail's S3 key prefix, if any.

    Returns:
        The key.
    """
    when = when.astimezone(UTC)
    name = log_file_name(account, region, timestamp(when))
    key = f"AWSLogs/{account}/CloudTrail/{region}/{when:%Y/%m/%d}/{name}"
    return f"{prefix}/{key}" if prefix else key


def string_to_sign(
    *, end_time: str, bucket: str, key: str, digest_sha256: str, previous_signature: str | None
) -> bytes:
    """Return CloudTrail's data-signing string for one digest.

    Args:
        end_time: ``digestEndTime`` as written in the digest.
        bucket: ``digestS3Bucket``.
        key: ``digestS3Object``.
        digest_sha256: hex SHA-256 of the uncompressed digest file.
        previous_signature: ``previousDigestSignature``, None for the first digest.

    Returns:
        The UTF-8 bytes to sign.
    """
    previous = "null" if previous_signature is None else previous_signature
    return f"{end_time}\n{bucket}/{key}\n{digest_sha256}\n{previous}".encode()


@dataclass(frozen=True)
class LogFileEntry:
    """One delivered log file, as a digest lists it.

    Args:
        bucket: ``s3Bucket``.
        key: ``s3Object``.
        hash_value: hex SHA-256 of the uncompressed file.
        newest_event_time: the newest record's ``eventTime``.
        oldest_event_time: the oldest record's ``eventTime``.
    """

    bucket: str
    key: str
    hash_value: str
    newest_event_time: str
    oldest_event_time: str

    @classmethod
    def of(cls, bucket: str, key: str, body: bytes) -> LogFileEntry:
        """Describe a delivered log file from its (gzip) body.

        Args:
            bucket: the bucket it was delivered to.
            key: its key.
            body: the gzip file as delivered.

        Returns:
            The entry.

        Raises:
            InvalidDigestError: the body is not a gzip CloudTrail log file with records.
        """
        try:
            raw = gzip.decompress(body)
            times = sorted(str(r["eventTime"]) for r in json.loads(raw)["Records"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidDigestError(f"s3://{bucket}/{key} is not a CloudTrail log file") from exc
        if not times:
            raise InvalidDigestError(f"s3://{bucket}/{key} holds no records")
        return cls(bucket, key, hashlib.sha256(raw).hexdigest(), times[-1], times[0])

    def to_json(self) -> dict[str, str]:
        """Return the ``logFiles[]`` entry."""
        return {
            "s3Bucket": self.bucket,
            "s3Object": self.key,
            "hashValue": self.hash_value,
            "hashAlgorithm": HASH_ALGORITHM,
            "newestEventTime": self.newest_event_time,
            "oldestEventTime": self.oldest_event_time,
        }


@dataclass(frozen=True)
class DigestFile:
    """A signed digest file, ready to put in S3.

    Args:
        bucket: the bucket it goes to.
        key: its key.
        body: the gzip bytes to store.
        metadata: the object's user metadata (``signature``, ``signature-algorithm``).
        sha256: hex SHA-256 of the uncompressed digest.
        signature: hex signature.
        document: the digest's JSON document.
    """

    bucket: str
    key: str
    body: bytes = field(repr=False)
    metadata: dict[str, str]
    sha256: str
    signature: str
    document: dict[str, Any] = field(repr=False)


def build_digest(
    *,
    account: str,
    bucket: str,
    prefix: str | None,
    source_region: str,
    home_region: str,
    trail_name: str,
    start: datetime,
    end: datetime,
    log_files: Sequence[LogFileEntry],
    previous: DigestFile | None,
    keys: DigestKeyStore,
) -> DigestFile:
    """Build and sign one digest file.

    Args:
        account: the account.
        bucket: the trail's bucket.
        prefix: the trail's key prefix.
        source_region: the Region whose log files it covers (its key signs).
        home_region: the trail's home Region.
        trail_name: the trail's name.
        start: ``digestStartTime``.
        end: ``digestEndTime``.
        log_files: the log files delivered in ``[start, end)``.
        previous: the previous digest of the chain, or None.
        keys: the signing keys.

    Returns:
        The digest.

    Raises:
        InvalidDigestError: ``end`` is not after ``start``, or the trail name is malformed.
    """
    if end <= start:
        raise InvalidDigestError("digestEndTime must be after digestStartTime")
    if not _NAME.match(trail_name):
        raise InvalidDigestError(f"Invalid trail name {trail_name!r}")
    key = digest_key(
        account=account,
        source_region=source_region,
        home_region=home_region,
        trail_name=trail_name,
        end=end,
        prefix=prefix,
    )
    newest = max((f.newest_event_time for f in log_files), default=None)
    oldest = min((f.oldest_event_time for f in log_files), default=None)
    fingerprint = keys.current_fingerprint(source_region)
    document: dict[str, Any] = {
        "awsAccountId": account,
        "digestStartTime": timestamp(start),
        "digestEndTime": timestamp(end),
        "digestS3Bucket": bucket,
        "digestS3Object": key,
        "digestPublicKeyFingerprint": fingerprint,
        "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
        "newestEventTime": newest,
        "oldestEventTime": oldest,
        "previousDigestS3Bucket": previous.bucket if previous else None,
        "previousDigestS3Object": previous.key if previous else None,
        "previousDigestHashValue": previous.sha256 if previous else None,
        "previousDigestHashAlgorithm": HASH_ALGORITHM if previous else None,
        "previousDigestSignature": previous.signature if previous else None,
        "logFiles": [f.to_json() for f in log_files],
    }
    raw = json.dumps(document, separators=(",", ":")).encode()
    sha256 = hashlib.sha256(raw).hexdigest()
    to_sign = string_to_sign(
        end_time=document["digestEndTime"],
        bucket=bucket,
        key=key,
        digest_sha256=sha256,
        previous_signature=document["previousDigestSignature"],
    )
    signed_by, signature = keys.sign(source_region, to_sign)
    if signed_by != fingerprint:  # a rotation between the two calls: rebuild with the new key
        return build_digest(
            account=account,
            bucket=bucket,
            prefix=prefix,
            source_region=source_region,
            home_region=home_region,
            trail_name=trail_name,
            start=start,
            end=end,
            log_files=log_files,
            previous=previous,
            keys=keys,
        )
    metadata = {"signature": signature.hex(), "signature-algorithm": SIGNATURE_ALGORITHM}
    return DigestFile(bucket, key, gzip.compress(raw, mtime=0), metadata, sha256, signature.hex(), document)
