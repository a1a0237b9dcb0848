"""Digest files built and signed as CloudTrail does, and validated as ``aws cloudtrail validate-logs`` does."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab.cloud.cloudtrail import (
    DigestChain,
    DigestKeyStore,
    InvalidDigestError,
    InvalidTimeRangeException,
    LogFileEntry,
    build_digest,
    digest_key,
    log_file_key,
    validate_logs,
)
from kmslab.trail.record import records_json
from kmslab.trail.recorder import log_file_name

ACCOUNT = "111122223333"
REGION = "us-east-1"
TRAIL = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/kmslab-trail"
BUCKET = "trail-bucket"
T0 = datetime(2026, 12, 2, 10, 0, 31, tzinfo=UTC)


class Bucket:
    """An in-memory S3 bucket (the ObjectReader the validator reads through)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = {}

    def put(self, bucket: str, key: str, body: bytes, metadata: Mapping[str, str] | None = None) -> None:
        self.objects[(bucket, key)] = (body, dict(metadata or {}))

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

    def get_object(self, bucket: str, key: str) -> tuple[bytes, Mapping[str, str]]:
        return self.objects[(bucket, key)]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _log_file(when: datetime, n: int, region: str = REGION) -> tuple[str, bytes]:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    records = [{"eventVersion": "1.11", "eventTime": stamp, "eventName": f"Decrypt{i}"} for i in range(n)]
    key = f"AWSLogs/{ACCOUNT}/CloudTrail/{region}/{when:%Y/%m/%d}/{log_file_name(ACCOUNT, region, stamp)}"
    return key, gzip.compress(records_json(records))


def _deliver(hours: int, keys: DigestKeyStore, bucket: Bucket) -> tuple[list[str], list[str]]:
    """Deliver two log files per hour for ``hours`` hours, with a digest at the end of each hour."""
    chain = DigestChain(TRAIL, BUCKET, None, REGION, T0)
    logs, digests = [], []
    for hour in range(hours):
        for minute in (5, 35):
            key, body = _log_file(T0 + timedelta(hours=hour, minutes=minute), 3)
            bucket.put(BUCKET, key, body)
            chain.add(LogFileEntry.of(BUCKET, key, body))
            logs.append(key)
        digest = chain.close(T0 + timedelta(hours=hour + 1), keys)
        bucket.put(BUCKET, digest.key, digest.body, digest.metadata)
        digests.append(digest.key)
    return logs, digests


def _public_keys(keys: DigestKeyStore) -> dict[str, bytes]:
    found = keys.list_public_keys(REGION, start=T0 - timedelta(days=1), end=T0 + timedelta(days=1))
    return {k.fingerprint: k.value for k in found}


def test_digest_key_layout() -> None:
    key = digest_key(
        account=ACCOUNT,
        source_region="eu-west-1",
        home_region=REGION,
        trail_name="kmslab-trail",
        end=datetime(2015, 8, 17, 15, 1, 31, tzinfo=UTC),
        prefix="pfx",
    )
    assert key == (
        "pfx/AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2015/08/17/"
        "111122223333_CloudTrail-Digest_eu-west-1_kmslab-trail_us-east-1_20150817T150131Z.json.gz"
    )


def test_log_file_key_layout() -> None:
    key = log_file_key(account=ACCOUNT, region="eu-west-1", when=T0, prefix="pfx")
    assert re.fullmatch(
        r"pfx/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/12/02/"
        r"111122223333_CloudTrail_eu-west-1_20261202T1000Z_[A-Za-z0-9]{16}\.json\.gz",
        key,
    ), key
    assert not log_file_key(account=ACCOUNT, region=REGION, when=T0).startswith("/")


def test_digest_document_and_signature_follow_cloudtrails_format() -> None:
    keys, bucket = DigestKeyStore(clock=Clock(T0)), Bucket()
    _, (first_key, second_key) = _deliver(2, keys, bucket)
    body, metadata = bucket.get_object(BUCKET, second_key)
    raw = gzip.decompress(body)
    doc = json.loads(raw)
    first = json.loads(gzip.decompress(bucket.get_object(BUCKET, first_key)[0]))
    assert doc["awsAccountId"] == ACCOUNT
    assert (doc["digestStartTime"], doc["digestEndTime"]) == ("2026-12-02T11:00:31Z", "2026-12-02T12:00:31Z")
    assert (doc["digestS3Bucket"], doc["digestS3Object"]) == (BUCKET, second_key)
    assert doc["digestSignatureAlgorithm"] == "SHA256withRSA" == metadata["signature-algorithm"]
    assert len(doc["digestPublicKeyFingerprint"]) == 32
    assert (doc["oldestEventTime"], doc["newestEventTime"]) == ("2026-12-02T11:05:31Z", "2026-12-02T11:35:31Z")
    # the chain: the previous digest's location, hash of its uncompressed content, and signature
    assert (doc["previousDigestS3Bucket"], doc["previousDigestS3Object"]) == (BUCKET, first_key)
    first_raw = gzip.decompress(bucket.get_object(BUCKET, first_key)[0])
    assert doc["previousDigestHashValue"] == hashlib.sha256(first_raw).hexdigest()
    assert doc["previousDigestHashAlgorithm"] == "SHA-256"
    assert doc["previousDigestSignature"] == bucket.get_object(BUCKET, first_key)[1]["signature"]
    assert first["previousDigestSignature"] is None and first["previousDigestS3Object"] is None
    # each log file: SHA-256 of its uncompressed content
    for entry in doc["logFiles"]:
        assert entry["hashAlgorithm"] == "SHA-256"
        content = gzip.decompress(bucket.get_object(BUCKET, entry["s3Object"])[0])
        assert entry["hashValue"] == hashlib.sha256(content).hexdigest()
    # the signature, checked independently: RSA PKCS#1 v1.5 + SHA-256 over the data-signing string
    (public,) = keys.list_public_keys(REGION)
    key = serialization.load_der_public_key(public.value)
    parts = [doc["digestEndTime"], f"{BUCKET}/{second_key}", hashlib.sha256(raw).hexdigest()]
    to_sign = "\n".join([*parts, doc["previousDigestSignature"]]).encode()
    key.verify(bytes.fromhex(metadata["signature"]), to_sign, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
    with pytest.raises(InvalidSignature):
        key.verify(bytes.fromhex(metadata["signature"]), to_sign + b"x", padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]


def test_an_hour_without_logs_still_gets_a_digest() -> None:
    keys = DigestKeyStore(clock=Clock(T0))
    chain = DigestChain(TRAIL, BUCKET, None, REGION, T0)
    assert chain.due(T0 + timedelta(hours=1)) and not chain.due(T0 + timedelta(minutes=59))
    digest = chain.close(T0 + timedelta(hours=1), keys)
    assert digest.document["logFiles"] == []
    assert digest.document["newestEventTime"] is None


def test_untouched_logs_validate() -> None:
    keys, bucket = DigestKeyStore(clock=Clock(T0)), Bucket()
    logs, digests = _deliver(3, keys, bucket)
    report = validate_logs(
        bucket, trail_arn=TRAIL, bucket=BUCKET, start=T0, end=T0 + timedelta(hours=3), public_keys=_public_keys(keys)
    )
    assert report.valid
    assert [r.uri for r in report.digests] == [f"s3://{BUCKET}/{k}" for k in reversed(digests)]
    assert sorted(r.uri for r in report.logs) == sorted(f"s3://{BUCKET}/{k}" for k in logs)
    assert report.summary() == "3/3 digest files valid\n6/6 log files valid"
    assert report.gaps == []


def test_modified_and_deleted_log_files_are_reported() -> None:
    keys, bucket = DigestKeyStore(clock=Clock(T0)), Bucket()
    logs, _ = _deliver(2, keys, bucket)
    body, meta = bucket.get_object(BUCKET, logs[0])
    tampered = json.loads(gzip.decompress(body))
    tampered["Records"][0]["eventName"] = "Encrypt"
    bucket.put(BUCKET, logs[0], gzip.compress(json.dumps(tampered).encode()), meta)
    del bucket.objects[(BUCKET, logs[3])]
    bucket.put(BUCKET, logs[2], b"not gzip")
    report = validate_logs(
        bucket, trail_arn=TRAIL, bucket=BUCKET, start=T0, end=T0 + timedelta(hours=2), public_keys=_public_keys(keys)
    )
    assert not report.valid
    verdicts = {r.uri.rsplit("/", 1)[1]: r.status for r in report.invalid()}
    assert verdicts == {
        logs[0].rsplit("/", 1)[1]: "INVALID: hash value doesn't match",
        logs[3].rsplit("/", 1)[1]: "INVALID: not found",
        logs[2].rsplit("/", 1)[1]: "INVALID: invalid format",
    }
    assert report.summary() == "2/2 digest files valid\n1/4 log files valid, 3/4 log files INVALID"
    assert report.invalid()[0].line().startswith("Log file\ts3://trail-bucket/AWSLogs/")


def test_tampered_and_deleted_digests_are_reported_and_the_walk_goes_on() -> None:
    keys, bucket = DigestKeyStore(clock=Clock(T0)), Bucket()
    _, digests = _deliver(4, keys, bucket)
    body, meta = bucket.get_object(BUCKET, digests[3])
    doc = json.loads(gzip.decompress(body))
    doc["logFiles"] = doc["logFiles"][:1]  # hide a log file: the signature no longer matches
    bucket.put(BUCKET, digests[3], gzip.compress(json.dumps(doc).encode()), meta)
    del bucket.objects[(BUCKET, digests[1])]
    report = validate_logs(
        bucket, trail_arn=TRAIL, bucket=BUCKET, start=T0, end=T0 + timedelta(hours=4), public_keys=_public_keys(keys)
    )
    assert [r.status for r in report.digests] == [
        "INVALID: signature verification failed",
        "valid",
        "INVALID: not found",
        "valid",
    ]
    assert report.summary().startswith("2/4 digest files valid, 2/4 digest files INVALID")


def test_a_digest_copied_elsewhere_or_signed_by_an_unknown_key_is_invalid() -> None:
    keys, bucket = DigestKeyStore(clock=Clock(T0)), Bucket()
    _, (key,) = _deliver(1, keys, bucket)
    assert (
        validate_logs(bucket, trail_arn=TRAIL, bucket=BUCKET, start=T0, end=T0 + timedelta(hours=1), public_keys={})
        .digests[0]
        .status.startswith("INVALID: public key not found")
    )
    body, meta = bucket.get_object(BUCKET, key)
    moved = key.replace("20261202T110031Z", "20261202T110032Z")
    del bucket.objects[(BUCKET, key)]
    bucket.put(BUCKET, moved, body, meta)
    report = validate_logs(
        bucket, trail_arn=TRAIL, bucket=BUCKET, start=T0, end=T0 + timedelta(hours=1), public_keys=_public_keys(keys)
    )
    assert report.digests[0].status == "INVALID: has been moved from its original location"
    bucket.put(BUCKET, moved, body, {})
    report = validate_logs(
        bucket, trail_arn=TRAIL, bucket=BUCKET, start=T0, end=T0 + timedelta(hours=1), public_keys=_public_keys(keys)
    )
    assert report.digests[0].status == "INVALID: signature verification failed"


def test_a_restarted_chain_is_a_gap_not_an_error() -> None:
    keys, bucket = DigestKeyStore(clock=Clock(T0)), Bucket()
    chain = DigestChain(TRAIL, BUCKET, None, REGION, T0)
    first = chain.close(T0 + timedelta(hours=1), keys)
    chain.restart(T0 + timedelta(hours=5))
    second = chain.close(T0 + timedelta(hours=6), keys)
    for digest in (first, second):
        bucket.put(BUCKET, digest.key, digest.body, digest.metadata)
    report = validate_logs(
        bucket, trail_arn=TRAIL, bucket=BUCKET, start=T0, end=T0 + timedelta(hours=6), public_keys=_public_keys(keys)
    )
    assert report.valid and [r.status for r in report.digests] == ["valid", "valid"]
    assert len(report.gaps) == 1 and report.gaps[0].startswith("No log files were delivered by CloudTrail between")


def test_rotated_keys_sign_new_digests_and_old_ones_still_validate() -> None:
    clock = Clock(T0)
    keys, bucket = DigestKeyStore(clock=clock), Bucket()
    chain = DigestChain(TRAIL, BUCKET, None, REGION, T0)
    first = chain.close(T0 + timedelta(hours=1), keys)
    clock.now = T0 + timedelta(hours=1, minutes=30)
    keys.rotate(REGION)
    second = chain.close(T0 + timedelta(hours=2), keys)
    assert first.document["digestPublicKeyFingerprint"] != second.document["digestPublicKeyFingerprint"]
    for digest in (first, second):
        bucket.put(BUCKET, digest.key, digest.body, digest.metadata)
    assert len(_public_keys(keys)) == 2
    # only the current key when no StartTime is given
    clock.now = T0 + timedelta(hours=3)
    assert [k.fingerprint for k in keys.list_public_keys(REGION)] == [second.document["digestPublicKeyFingerprint"]]
    report = validate_logs(
        bucket, trail_arn=TRAIL, bucket=BUCKET, start=T0, end=T0 + timedelta(hours=2), public_keys=_public_keys(keys)
    )
    assert report.valid and len(report.digests) == 2
    with pytest.raises(InvalidTimeRangeException):
        keys.list_public_keys(REGION, start=T0, end=T0 - timedelta(seconds=1))


def test_keys_are_per_region_and_persist_only_wrapped() -> None:
    keys = DigestKeyStore(clock=Clock(T0))
    assert keys.current_fingerprint("us-east-1") != keys.current_fingerprint("eu-west-1")
    wrapping_key = AESGCM(AESGCM.generate_key(bit_length=256))
    nonce = b"\0" * 12  # one message per test key: fine here
    exported = keys.export(lambda der: wrapping_key.encrypt(nonce, der, None))
    text = json.dumps(exported)
    assert "MII" not in text and "PRIVATE" not in text
    restored = DigestKeyStore(clock=Clock(T0))
    restored.load(exported, lambda blob: wrapping_key.decrypt(nonce, blob, None))
    assert restored.current_fingerprint("eu-west-1") == keys.current_fingerprint("eu-west-1")
    _, signature = restored.sign("us-east-1", b"data")
    public = serialization.load_der_public_key(keys.list_public_keys("us-east-1")[0].value)
    public.verify(signature, b"data", padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
    assert "RSAPrivateKey" not in repr(keys) and "_keys" not in repr(keys)


def test_bad_digest_inputs_are_refused() -> None:
    keys = DigestKeyStore(clock=Clock(T0))
    with pytest.raises(InvalidDigestError):
        LogFileEntry.of(BUCKET, "k", b"not gzip")
    with pytest.raises(InvalidDigestError):
        build_digest(
            account=ACCOUNT,
            bucket=BUCKET,
            prefix=None,
            source_region=REGION,
            home_region=REGION,
            trail_name="kmslab-trail",
            start=T0,
            end=T0,
            log_files=[],
            previous=None,
            keys=keys,
        )


def test_list_public_keys_value_is_what_validate_logs_decodes() -> None:
    # The CLI takes the SDK's Value, base64-decodes it and loads a PKCS#1 DER RSA key from it.
    keys, bucket = DigestKeyStore(clock=Clock(T0)), Bucket()
    _, (digest_key_name,) = _deliver(1, keys, bucket)
    (entry,) = [k.to_api(T0) for k in keys.list_public_keys(REGION)]
    der = base64.b64decode(entry["Value"])
    assert der.startswith(b"\x30\x82\x01\x0a\x02\x82\x01\x01")  # RSAPublicKey (PKCS#1), 2048 bits
    assert base64.b64encode(der).startswith(b"MIIBCgKCAQEA")  # the shape of the CLI's own test key
    assert entry["ValidityEndTime"] == T0 and entry["Fingerprint"] == keys.current_fingerprint(REGION)
    report = validate_logs(
        bucket,
        trail_arn=TRAIL,
        bucket=BUCKET,
        start=T0,
        end=T0 + timedelta(hours=1),
        public_keys={entry["Fingerprint"]: der},
    )
    assert report.valid and report.digests[0].uri.endswith(digest_key_name)
