"""The digest signing keys kept across restarts: wrapped (AES-GCM) before they reach the data directory.

``validate-logs`` needs every public key that signed a digest still in the bucket, so the keys must
outlive the process. Each private key is sealed with AES-256-GCM under a key derived (HKDF) from the
local KMS's root key for this purpose only, then stored in the cloud's DocStore; nothing private is
written in the clear.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab.cloud.cloudtrail.keys import DigestKeyStore
from kmslab.cloud.services.docstore import DocStore
from kmslab.kms import LocalKms

_KIND, _NAME = "cloudtrail-digest-keys", "keys"
_AAD = b"kmslab cloudtrail digest signing key"


class SavedDigestKeys:
    """Loads the digest keys at start and saves them whenever a key was made or retired.

    Args:
        keys: the key store.
        docs: where the wrapped keys persist.
        kms: the local KMS (its root key derives the wrapping key).
    """

    def __init__(self, keys: DigestKeyStore, docs: DocStore, kms: LocalKms) -> None:
        self.keys = keys
        self.docs = docs
        self._aead = AESGCM(kms.subkey(b"cloudtrail-digest-keys"))
        self._lock = threading.Lock()
        saved = docs.get(_KIND, _NAME)
        if saved:
            keys.load(saved["keys"], self._unwrap)
        self._seen = self._fingerprints(keys.export(lambda raw: b""))

    def _wrap(self, raw: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, raw, _AAD)

    def _unwrap(self, sealed: bytes) -> bytes:
        return self._aead.decrypt(sealed[:12], sealed[12:], _AAD)

    @staticmethod
    def _fingerprints(exported: dict[str, list[dict[str, Any]]]) -> set[tuple[str, str, Any]]:
        return {(region, k["start"], k["end"]) for region, items in exported.items() for k in items}

    def save_if_changed(self) -> None:
        """Persist the keys if one was made or retired since the last save."""
        with self._lock:
            now = self._fingerprints(self.keys.export(lambda raw: b""))
            if now == self._seen:
                return
            self.docs.put(_KIND, _NAME, {"keys": self.keys.export(self._wrap)})
            self._seen = now
