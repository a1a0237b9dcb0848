"""Log file integrity validation: what ``aws cloudtrail validate-logs`` checks, reproduced.

The AWS CLI's ``validate-logs`` lists the trail's digest files in the time range, walks the chain
from the newest digest back through ``previousDigestS3Object``, and for each digest checks that it
is where it says it is (``digestS3Bucket``/``digestS3Object``), that its public key is known, and
that its signature verifies; then it downloads every log file the digest lists and compares the
SHA-256 of its uncompressed content with ``hashValue``. A missing digest or log file is reported
``not found``; a chain without a previous digest while older digests exist is a gap. The messages
below are the CLI's.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from kmslab.cloud.cloudtrail.digest import string_to_sign
from kmslab.cloud.cloudtrail.keys import load_public_key

_REQUIRED = (
    "digestPublicKeyFingerprint",
    "digestS3Bucket",
    "digestS3Object",
    "previousDigestSignature",
    "digestEndTime",
    "digestStartTime",
)


class ObjectReader(Protocol):
    """Reads the trail's bucket (the local S3 as the validating caller, or a folder in tests)."""

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        """Return the keys under ``prefix``, sorted."""
        ...

    def get_object(self, bucket: str, key: str) -> tuple[bytes, Mapping[str, str]]:
        """Return the object's body and user metadata; raise KeyError when it does not exist."""
        ...


@dataclass(frozen=True)
class FileResult:
    """The verdict on one digest or log file.

    Args:
        kind: ``Digest file`` or ``Log file``.
        uri: ``s3://bucket/key``.
        status: ``valid`` or ``INVALID: <reason>``.
    """

    kind: str
    uri: str
    status: str

    @property
    def valid(self) -> bool:
        """True when the file checked out."""
        return self.status == "valid"

    def line(self) -> str:
        """Return the CLI's status line (tab separated)."""
        return f"{self.kind}\t{self.uri}\t{self.status}"


@dataclass
class ValidationReport:
    """Everything one validation found.

    Args:
        digests: digest verdicts, newest first.
        logs: log file verdicts.
        gaps: ``No log files were delivered ...`` notes.
    """

    digests: list[FileResult] = field(default_factory=list)
    logs: list[FileResult] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when every digest and log file is valid (the CLI's exit status 0)."""
        return all(r.valid for r in self.digests + self.logs)

    def invalid(self) -> list[FileResult]:
        """Return the invalid files, digests first."""
        return [r for r in self.digests + self.logs if not r.valid]

    def summary(self) -> str:
        """Return the CLI's ratio lines (``2/2 digest files valid``...)."""
        lines = []
        for name, results in (("digest", self.digests), ("log", self.logs)):
            bad = sum(not r.valid for r in results)
            if results:
                line = f"{len(results) - bad}/{len(results)} {name} files valid"
                lines.append(line + (f", {bad}/{len(results)} {name} files INVALID" if bad else ""))
        return "\n".join(lines)


def _key_date(key: str) -> str:
    return key[-24:-8]  # YYYYMMDDTHHMMSSZ, as the CLI extracts it


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class _Invalid(Exception):
    pass


def _check_digest(reader: ObjectReader, bucket: str, key: str, public_keys: Mapping[str, bytes]) -> dict[str, Any]:
    body, metadata = reader.get_object(bucket, key)
    try:
        raw = zlib.decompress(body, zlib.MAX_WBITS | 16)
        digest: dict[str, Any] = json.loads(raw.decode())
    except (ValueError, zlib.error) as exc:
        raise _Invalid("invalid format") from exc
    if "signature" not in metadata or "signature-algorithm" not in metadata:
        raise _Invalid("signature verification failed")
    if not isinstance(digest, dict) or any(k not in digest for k in _REQUIRED):
        raise _Invalid("invalid format")
    if digest["digestS3Bucket"] != bucket or digest["digestS3Object"] != key:
        raise _Invalid("has been moved from its original location")
    fingerprint = digest["digestPublicKeyFingerprint"]
    if fingerprint not in public_keys:
        raise _Invalid(f"public key not found for fingerprint {fingerprint}")
    try:
        public_key = load_public_key(public_keys[fingerprint])
    except ValueError as exc:
        raise _Invalid(f"Unable to load PKCS #1 key with fingerprint {fingerprint}") from exc
    to_sign = string_to_sign(
        end_time=digest["digestEndTime"],
        bucket=bucket,
        key=key,
        digest_sha256=hashlib.sha256(raw).hexdigest(),
        previous_signature=digest["previousDigestSignature"],
    )
    try:
        public_key.verify(bytes.fromhex(metadata["signature"]), to_sign, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as exc:
        raise _Invalid("signature verification failed") from exc
    return digest


def _check_log(reader: ObjectReader, entry: Mapping[str, Any]) -> FileResult:
    bucket, key = str(entry["s3Bucket"]), str(entry["s3Object"])
    uri = f"s3://{bucket}/{key}"
    try:
        body, _ = reader.get_object(bucket, key)
    except KeyError:
        return FileResult("Log file", uri, "INVALID: not found")
    try:
        computed = hashlib.sha256(gzip.decompress(body)).hexdigest()
    except (OSError, EOFError):
        return FileResult("Log file", uri, "INVALID: invalid format")
    if computed != entry.get("hashValue"):
        return FileResult("Log file", uri, "INVALID: hash value doesn't match")
    return FileResult("Log file", uri, "valid")


def validate_logs(
    reader: ObjectReader,
    *,
    trail_arn: str,
    bucket: str,
    start: datetime,
    end: datetime,
    public_keys: Mapping[str, bytes],
    prefix: str | None = None,
    source_region: str | None = None,
) -> ValidationReport:
    """Validate a trail's digest and log files delivered between ``start`` and ``end``.

    Args:
        reader: reads the bucket.
        trail_arn: ``arn:aws:cloudtrail:<home region>:<account>:trail/<name>``.
        bucket: the trail's bucket.
        start: the range's start.
        end: the range's end.
        public_keys: fingerprint to DER public key (from ListPublicKeys).
        prefix: the trail's key prefix.
        source_region: the Region whose logs are validated (default: the trail's home Region).

    Returns:
        The report.
    """
    parts = trail_arn.split(":")
    home_region, account, name = parts[3], parts[4], trail_arn.split("/")[-1]
    region = source_region or home_region
    folder = f"AWSLogs/{account}/CloudTrail-Digest/{region}/"
    pattern = re.compile(
        "^"
        + (re.escape(prefix) + "/" if prefix else "")
        + re.escape(folder)
        + r"\d+/\d+/\d+/"
        + re.escape(f"{account}_CloudTrail-Digest_{region}_{name}_{home_region}_")
        + r".+\.json\.gz$"
    )
    low = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    high = (end + timedelta(hours=1)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    listed = reader.list_keys(bucket, (f"{prefix}/" if prefix else "") + folder)
    digests = sorted((k for k in listed if pattern.match(k) and low <= _key_date(k) <= high), key=_key_date)
    report = ValidationReport()
    key = digests.pop() if digests else None
    last_start = end
    while key is not None and start <= last_start:
        uri = f"s3://{bucket}/{key}"
        try:
            digest = _check_digest(reader, bucket, key, public_keys)
        except KeyError:
            report.digests.append(FileResult("Digest file", uri, "INVALID: not found"))
            key = _older(digests, key)
            continue
        except _Invalid as exc:
            report.digests.append(FileResult("Digest file", uri, f"INVALID: {exc}"))
            key = _older(digests, key)
            continue
        report.digests.append(FileResult("Digest file", uri, "valid"))
        report.logs.extend(_check_log(reader, entry) for entry in digest.get("logFiles") or [])
        last_start = _parse(digest["digestStartTime"])
        if digest.get("previousDigestS3Bucket") is None:
            older = _older(digests, key)
            if older is not None:
                report.gaps.append(
                    f"No log files were delivered by CloudTrail between {_key_date(older)} and "
                    f"{digest['digestStartTime']}"
                )
            key = older
        else:
            bucket, key = digest["previousDigestS3Bucket"], digest["previousDigestS3Object"]
    return report


def _older(digests: list[str], before: str) -> str | None:
    """Pop listed digests until one is older than ``before`` (the CLI's ``_get_last_digest``)."""
    while digests:
        candidate = digests.pop()
        if _key_date(candidate) < _key_date(before):
            return candidate
    return None
