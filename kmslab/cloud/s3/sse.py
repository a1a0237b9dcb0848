"""Server-side encryption keys for the local S3: SSE-S3, and SSE-KMS through the local KMS as the requester.

SSE-KMS (S3 User Guide, "Using server-side encryption with AWS KMS keys"):

* PUT calls KMS ``GenerateDataKey`` *as the requester via S3*: the KMS caller is the requester
  with ``invoked_by = s3.amazonaws.com``, so ``kms:ViaService`` is ``s3.<region>.amazonaws.com``
  and CloudTrail shows ``invokedBy``. The encryption context is ``aws:s3:arn`` = the object ARN.
* GET calls KMS ``Decrypt`` with the same context, as the requester: a disabled key, a key
  pending deletion, or a requester without ``kms:Decrypt`` makes the GET fail.
* With an S3 Bucket Key, S3 asks KMS for a bucket-level data key (context ``aws:s3:arn`` = the
  bucket ARN) and derives each object's key from it; the bucket-level key is reused for a bounded
  time (:data:`BUCKET_KEY_TTL`), per requester and KMS key, so KMS calls drop by orders of
  magnitude. A change to the key's state or policy (DisableKey, ScheduleKeyDeletion,
  PutKeyPolicy, RevokeGrant, RetireGrant) drops its cached bucket keys at once, so a refusal
  shows on the next request (AWS may keep serving from its cache for a while; never longer).
* ``aws:kms`` without a key ID uses the AWS managed key ``aws/s3``, created on first use.

SSE-S3 objects get a random data key sealed under the local S3's root key (``root.key``, 0600).
Every object's own key is derived from its data key and a random salt.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab.cloud.s3.crypto import derive_object_key
from kmslab.cloud.s3.errors import from_kms
from kmslab.cloud.s3.store import S3Store
from kmslab.cloud.services.managed_keys import ManagedKeys
from kmslab.kms import ApiCall, Caller, KmsError, LocalKms

S3_PRINCIPAL = "s3.amazonaws.com"
BUCKET_KEY_TTL = 300.0


class _Flight:
    """One bucket key being made: the lock its uploads wait on, and how many hold or wait for it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


_INVALIDATING = frozenset(
    {"DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy", "RevokeGrant", "RetireGrant", "DeleteImportedKeyMaterial"}
)


def _load_root_key(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes()
        if len(data) != 32:
            raise OSError(f"{path} is not a 32-byte key") from None
        return data
    key = os.urandom(32)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


class SseKeys:
    """Data keys for objects: made and opened as the requester, with the Bucket Key cache and a KMS call counter.

    Args:
        kms: the local KMS engine.
        store: the S3 store (its root key).
        account: the account.
        managed: the AWS managed keys (``aws/s3``).
    """

    def __init__(self, kms: LocalKms, store: S3Store, account: str, managed: ManagedKeys) -> None:
        self.kms = kms
        self.managed = managed
        self.store = store
        self.account = account
        self._root = AESGCM(_load_root_key(store.root / "root.key"))
        self._lock = threading.Lock()
        self._put_cache: dict[tuple[str, str, str, str], tuple[bytes, str, str, float]] = {}
        self._get_cache: dict[tuple[str, str], tuple[bytes, str, float]] = {}
        self._making: dict[tuple[str, str, str, str], _Flight] = {}  # one GenerateDataKey per bucket key
        self._epoch = 0  # bumped by each invalidation: a key made across one is not cached
        self._sweep_at = 0.0
        self.kms_calls: Counter[str] = Counter()
        self.bucket_key_hits = 0
        kms.add_sink(self._on_kms_call)

    def stats(self) -> dict[str, Any]:
        """Figures for ``kmslab local stats``.

        Returns:
            KMS calls made by S3 (by operation and in total) and Bucket Key cache hits.
        """
        with self._lock:
            calls = dict(self.kms_calls)
            return {
                "kms_calls": calls,
                "kms_calls_total": sum(calls.values()),
                "bucket_key_cache_hits": self.bucket_key_hits,
            }

    # -- KMS ----------------------------------------------------------------------------------

    def _kms(self, operation: str, params: dict[str, Any], caller: Caller, region: str) -> dict[str, Any]:
        with self._lock:
            self.kms_calls[operation] += 1
        try:
            return self.kms.call(operation, params, caller=replace(caller, invoked_by=S3_PRINCIPAL), region=region)
        except KmsError as exc:
            raise from_kms(exc) from None

    def _on_kms_call(self, call: ApiCall) -> None:
        if call.operation not in _INVALIDATING or call.error_code is not None or not call.key_arns:
            return
        arns = set(call.key_arns)
        with self._lock:
            self._epoch += 1
            self._put_cache = {k: v for k, v in self._put_cache.items() if v[2] not in arns}
            self._get_cache = {k: v for k, v in self._get_cache.items() if v[1] not in arns}

    def managed_key(self, region: str) -> str:
        """The ARN of the AWS managed key ``aws/s3`` of a region, created on first use.

        Args:
            region: the region.

        Returns:
            The key ARN.
        """
        try:
            return self.managed.arn("s3", region)
        except KmsError as exc:
            raise from_kms(exc) from None

    # -- making and opening object keys --------------------------------------------------------

    def new_object_key(
        self,
        *,
        caller: Caller,
        region: str,
        algorithm: str,
        key_id: str | None,
        bucket_key: bool,
        bucket_arn: str,
        object_arn: str,
        extra_context: Mapping[str, str] | None = None,
    ) -> tuple[bytes, dict[str, Any]]:
        """Make the key for a new object (or multipart upload).

        Args:
            caller: the requester.
            region: the bucket's region.
            algorithm: ``AES256`` or ``aws:kms``.
            key_id: the KMS key (ID, ARN, alias); None for ``aws/s3``.
            bucket_key: use an S3 Bucket Key.
            bucket_arn: the bucket ARN.
            object_arn: the object ARN.
            extra_context: encryption context beside ``aws:s3:arn`` (a service's write, e.g.
                CloudTrail's ``aws:cloudtrail:arn``); stored with the object, sent on every read.

        Returns:
            (the object key, the encryption document to store with the object).

        Raises:
            CloudError: KMS refused (S3's error for it).
        """
        salt = os.urandom(16)
        if algorithm != "aws:kms":
            data_key = os.urandom(32)
            nonce = os.urandom(12)
            edk = nonce + self._root.encrypt(nonce, data_key, b"kmslab s3 sse-s3")
            sealed = {"algorithm": "AES256", "edk": base64.b64encode(edk).decode(), "salt": salt.hex()}
            return derive_object_key(data_key, salt), sealed
        wanted = self.managed_key(region) if not key_id or key_id.endswith("alias/aws/s3") else key_id
        extra = dict(extra_context or {})
        if bucket_key:
            plain, blob, arn = self._bucket_data_key(caller, region, wanted, bucket_arn, extra)
            context = bucket_arn
        else:
            answer = self._kms(
                "GenerateDataKey",
                {"KeyId": wanted, "KeySpec": "AES_256", "EncryptionContext": {**extra, "aws:s3:arn": object_arn}},
                caller,
                region,
            )
            plain, blob, arn = base64.b64decode(answer["Plaintext"]), answer["CiphertextBlob"], answer["KeyId"]
            context = object_arn
        doc: dict[str, Any] = {
            "algorithm": "aws:kms",
            "key_arn": arn,
            "bucket_key": bucket_key,
            "edk": blob,
            "salt": salt.hex(),
            "context": context,
        }
        if extra:
            doc["extra_context"] = extra
        return derive_object_key(plain, salt), doc

    def _bucket_data_key(
        self, caller: Caller, region: str, key_id: str, bucket_arn: str, extra: Mapping[str, str] | None = None
    ) -> tuple[bytes, str, str]:
        extra = dict(extra or {})
        cache_key = (caller.arn, region, key_id, bucket_arn + "|" + json.dumps(extra, sort_keys=True))
        with self._lock:
            flight = self._making.get(cache_key)
            if flight is None:
                flight = self._making[cache_key] = _Flight()
            flight.users += 1
        # concurrent uploads into one bucket (``aws s3 cp --recursive`` sends 10 at once) wait for the first
        # one's bucket key rather than each asking KMS for its own
        try:
            with flight.lock:
                return self._cached_or_new_bucket_key(caller, region, key_id, bucket_arn, extra, cache_key)
        finally:
            with self._lock:
                flight.users -= 1
                if flight.users == 0:
                    del self._making[cache_key]

    def _cached_or_new_bucket_key(
        self,
        caller: Caller,
        region: str,
        key_id: str,
        bucket_arn: str,
        extra: dict[str, str],
        cache_key: tuple[str, str, str, str],
    ) -> tuple[bytes, str, str]:
        now = time.monotonic()
        with self._lock:
            hit = self._put_cache.get(cache_key)
            if hit is not None and hit[3] > now:
                self.bucket_key_hits += 1
                return hit[0], hit[1], hit[2]
            epoch = self._epoch
        answer = self._kms(
            "GenerateDataKey",
            {"KeyId": key_id, "KeySpec": "AES_256", "EncryptionContext": {**extra, "aws:s3:arn": bucket_arn}},
            caller,
            region,
        )
        plain, blob = base64.b64decode(answer["Plaintext"]), str(answer["CiphertextBlob"])
        arn = str(answer["KeyId"])
        with self._lock:
            if self._epoch == epoch:  # kept only if no key changed (e.g. its policy) while KMS answered
                self._sweep(now)
                self._put_cache[cache_key] = (plain, blob, arn, now + BUCKET_KEY_TTL)
                self._get_cache[(caller.arn, blob)] = (plain, arn, now + BUCKET_KEY_TTL)
        return plain, blob, arn

    def _sweep(self, now: float) -> None:
        """Drop expired bucket keys (at most once per TTL), so no plaintext key outlives its use. Holds the lock."""
        if now < self._sweep_at:
            return
        self._sweep_at = now + BUCKET_KEY_TTL
        self._put_cache = {k: v for k, v in self._put_cache.items() if v[3] > now}
        self._get_cache = {k: v for k, v in self._get_cache.items() if v[2] > now}

    def open_object_key(self, *, caller: Caller, region: str, enc: dict[str, Any]) -> bytes:
        """Recover an object's key to read it.

        Args:
            caller: the requester.
            region: the bucket's region.
            enc: the object's encryption document.

        Returns:
            The object key.

        Raises:
            CloudError: KMS refused (S3's error for it).
        """
        salt = bytes.fromhex(enc["salt"])
        if enc["algorithm"] != "aws:kms":
            raw = base64.b64decode(enc["edk"])
            return derive_object_key(self._root.decrypt(raw[:12], raw[12:], b"kmslab s3 sse-s3"), salt)
        blob = enc["edk"]
        now = time.monotonic()
        with self._lock:
            epoch = self._epoch
            if enc.get("bucket_key"):
                hit = self._get_cache.get((caller.arn, blob))
                if hit is not None and hit[2] > now:
                    self.bucket_key_hits += 1
                    return derive_object_key(hit[0], salt)
        answer = self._kms(
            "Decrypt",
            {
                "CiphertextBlob": blob,
                "KeyId": enc["key_arn"],
                "EncryptionContext": {**enc.get("extra_context", {}), "aws:s3:arn": enc["context"]},
            },
            caller,
            region,
        )
        plain = base64.b64decode(answer["Plaintext"])
        if enc.get("bucket_key"):
            with self._lock:
                if self._epoch == epoch:
                    self._sweep(now)
                    self._get_cache[(caller.arn, blob)] = (plain, enc["key_arn"], now + BUCKET_KEY_TTL)
        return derive_object_key(plain, salt)
