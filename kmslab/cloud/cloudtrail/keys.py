"""CloudTrail's digest signing keys: one RSA key pair per Region, rotated, listed by ListPublicKeys.

AWS (CloudTrail User Guide, "Validating CloudTrail log file integrity"): CloudTrail signs each
digest file with the private key of a key pair it keeps per Region; ``ListPublicKeys`` returns the
public keys valid in a time range, each with ``Value`` (the DER-encoded public key in PKCS#1
format), ``ValidityStartTime``, ``ValidityEndTime`` and ``Fingerprint``. A digest names its key by
``digestPublicKeyFingerprint`` (32 hex digits in AWS's examples). We compute the fingerprint as the
MD5 of the PKCS#1 DER public key; verifiers only use it to pick the key, never recompute it.

Private keys stay in memory. :meth:`DigestKeyStore.export` hands each one to a caller-supplied
``wrap`` function (the gateway encrypts it before it reaches the data dir), so no private key
material is written in the clear.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kmslab.cloud.cloudtrail.errors import InvalidTimeRangeException

KEY_BITS = 2048
SIGNATURE_ALGORITHM = "SHA256withRSA"


@dataclass(frozen=True)
class PublicKey:
    """One entry of ListPublicKeys' ``PublicKeyList``.

    Args:
        value: the DER-encoded RSA public key (PKCS#1 ``RSAPublicKey``).
        fingerprint: its fingerprint (hex).
        validity_start: when the key started signing.
        validity_end: when it stopped (None: still current).
    """

    value: bytes
    fingerprint: str
    validity_start: datetime
    validity_end: datetime | None

    def to_api(self, now: datetime) -> dict[str, Any]:
        """Return the ListPublicKeys entry; a current key's end is reported as ``now``.

        ``Value`` is the blob as the JSON wire carries it: the base64 text of the DER key. boto3
        decodes it (its caller gets the DER bytes); the AWS CLI v1 leaves blobs as their base64 text
        (``blob_parser=identity``) and its ``validate-logs`` base64-decodes ``Value`` itself before
        loading the PKCS#1 key, so the text is encoded once, never twice.

        Args:
            now: the time of the request.

        Returns:
            ``Value`` (bytes), ``ValidityStartTime``, ``ValidityEndTime``, ``Fingerprint``.
        """
        return {
            "Value": base64.b64encode(self.value),
            "ValidityStartTime": self.validity_start,
            "ValidityEndTime": self.validity_end or now,
            "Fingerprint": self.fingerprint,
        }


@dataclass
class _SigningKey:
    private: rsa.RSAPrivateKey = field(repr=False)
    public: PublicKey

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _public_of(private: rsa.RSAPrivateKey, start: datetime, end: datetime | None) -> PublicKey:
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    fingerprint = hashlib.md5(der, usedforsecurity=False).hexdigest()
    return PublicKey(der, fingerprint, start, end)


def load_public_key(value: bytes) -> rsa.RSAPublicKey:
    """Load a ListPublicKeys ``Value`` (PKCS#1 DER).

    Args:
        value: the DER bytes.

    Returns:
        The RSA public key.

    Raises:
        ValueError: the bytes are not an RSA public key.
    """
    key = serialization.load_der_public_key(value)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


@dataclass
class DigestKeyStore:
    """The digest signing keys of every Region of one partition (keys are per Region, not per account).

    Args:
        clock: returns the current time (timezone-aware).
    """

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _keys: dict[str, list[_SigningKey]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _current(self, region: str) -> _SigningKey:
        with self._lock:
            keys = self._keys.setdefault(region, [])
            if not keys:
                private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
                keys.append(_SigningKey(private, _public_of(private, self.clock(), None)))
            return keys[-1]

    def current_fingerprint(self, region: str) -> str:
        """Return the fingerprint of the Region's current key (created on first use)."""
        return self._current(region).public.fingerprint

    def sign(self, region: str, data: bytes) -> tuple[str, bytes]:
        """Sign with the Region's current key (RSA PKCS#1 v1.5 over SHA-256 of ``data``).

        Args:
            region: the Region whose key signs.
            data: the bytes to sign (the data-signing string).

        Returns:
            ``(fingerprint, signature)``.
        """
        key = self._current(region)
        return key.public.fingerprint, key.sign(data)

    def rotate(self, region: str) -> PublicKey:
        """Retire the Region's current key and start a new one (AWS rotates its keys periodically).

        Args:
            region: the Region.

        Returns:
            The new public key.
        """
        old = self._current(region)
        now = self.clock()
        private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        new = _SigningKey(private, _public_of(private, now, None))
        with self._lock:
            old.public = PublicKey(old.public.value, old.public.fingerprint, old.public.validity_start, now)
            self._keys[region].append(new)
        return new.public

    def list_public_keys(
        self, region: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[PublicKey]:
        """ListPublicKeys: the Region's keys valid at some time in ``[start, end]``.

        AWS: without StartTime the current time is used (so only the current key is returned);
        without EndTime, the current time.

        Args:
            region: the Region of the request.
            start: the range's start.
            end: the range's end.

        Returns:
            The public keys, oldest first.

        Raises:
            InvalidTimeRangeException: ``end`` is before ``start``.
        """
        self._current(region)  # first: a key made now must be valid at the "now" of this request
        now = self.clock()
        start = start or now
        end = end or now
        if end < start:
            raise InvalidTimeRangeException("Occurs if the timestamp values are not valid.")
        with self._lock:
            keys = [k.public for k in self._keys[region]]
        return [k for k in keys if k.validity_start <= end and (k.validity_end is None or k.validity_end >= start)]

    def export(self, wrap: Callable[[bytes], bytes]) -> dict[str, list[dict[str, Any]]]:
        """Return the keys for persistence, each private key passed through ``wrap`` (an encryptor).

        Args:
            wrap: encrypts the PKCS#8 DER private key.

        Returns:
            Per Region, the keys' wrapped private keys and validity times (ISO 8601).
        """
        with self._lock:
            return {
                region: [
                    {
                        "wrapped": wrap(
                            k.private.private_bytes(
                                serialization.Encoding.DER,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption(),
                            )
                        ).hex(),
                        "start": k.public.validity_start.isoformat(),
                        "end": k.public.validity_end.isoformat() if k.public.validity_end else None,
                    }
                    for k in keys
                ]
                for region, keys in self._keys.items()
            }

    def load(self, data: dict[str, list[dict[str, Any]]], unwrap: Callable[[bytes], bytes]) -> None:
        """Restore keys saved by :meth:`export`.

        Args:
            data: what :meth:`export` returned.
            unwrap: decrypts what ``wrap`` produced.
        """
        restored: dict[str, list[_SigningKey]] = {}
        for region, entries in data.items():
            for entry in entries:
                private = serialization.load_der_private_key(unwrap(bytes.fromhex(entry["wrapped"])), password=None)
                if not isinstance(private, rsa.RSAPrivateKey):
                    raise ValueError("a stored digest signing key is not an RSA key")
                end = datetime.fromisoformat(entry["end"]) if entry["end"] else None
                public = _public_of(private, datetime.fromisoformat(entry["start"]), end)
                restored.setdefault(region, []).append(_SigningKey(private, public))
        with self._lock:
            self._keys = restored
