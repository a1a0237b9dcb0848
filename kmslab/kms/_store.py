"""Where the local KMS keeps its state: an embedded SQLite database, or nothing (in memory).

Key material is sealed with AES-256-GCM under a local root key (``root.key``, mode 0600,
created once with ``O_CREAT|O_EXCL``) before it reaches the database, so the data
directory never holds plaintext key material. Every write is one transaction.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kmslab.kms.errors import KMSInternalException

ROOT_KEY_FILE = "root.key"
DB_FILE = "kms.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (region TEXT NOT NULL, key_id TEXT NOT NULL, doc TEXT NOT NULL,
                                 PRIMARY KEY (region, key_id));
CREATE TABLE IF NOT EXISTS aliases (region TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL,
                                    PRIMARY KEY (region, name));
"""


def _load_root_key(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes()
        if len(data) != 32:
            raise KMSInternalException(f"{path} is not a 32-byte root key") from None
        return data
    key = os.urandom(32)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


class Store:
    """Persistence for keys and aliases.

    Args:
        data_dir: the directory to keep ``kms.sqlite3`` and ``root.key`` in, or None for memory only.
    """

    def __init__(self, data_dir: str | Path | None) -> None:
        self._db: sqlite3.Connection | None = None
        if data_dir is None:
            self._root_key = os.urandom(32)
            self._root = AESGCM(self._root_key)
            return
        directory = Path(data_dir)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._root_key = _load_root_key(directory / ROOT_KEY_FILE)
        self._root = AESGCM(self._root_key)
        self._db = sqlite3.connect(directory / DB_FILE, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"Store(persistent={self._db is not None})"

    @property
    def persistent(self) -> bool:
        """Whether state survives a restart."""
        return self._db is not None

    def seal(self, plaintext: bytes, aad: bytes) -> str:
        """Encrypt key material under the root key.

        Args:
            plaintext: the material.
            aad: what the sealed text is bound to (region/key/material IDs).

        Returns:
            Base64 text: nonce + ciphertext + tag.
        """
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._root.encrypt(nonce, plaintext, aad)).decode()

    def unseal(self, sealed: str, aad: bytes) -> bytes:
        """Decrypt key material sealed by :meth:`seal`.

        Args:
            sealed: the sealed text.
            aad: the same binding used to seal it.

        Returns:
            The material.

        Raises:
            KMSInternalException: the root key does not open it (wrong root key or corruption).
        """
        raw = base64.b64decode(sealed)
        try:
            return self._root.decrypt(raw[:12], raw[12:], aad)
        except InvalidTag:
            raise KMSInternalException("stored key material does not open under the root key") from None

    def subkey(self, label: bytes) -> bytes:
        """Derive a 32-byte key for one purpose from the root key (HKDF-SHA256).

        Args:
            label: the purpose, e.g. ``b"grant-token"``.

        Returns:
            The derived key.
        """
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"kmslab/" + label).derive(self._root_key)

    def load(self) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
        """Read every key and alias document.

        Returns:
            The key documents, and (region, alias document) pairs.
        """
        if self._db is None:
            return [], []
        keys = [json.loads(row[0]) for row in self._db.execute("SELECT doc FROM keys")]
        aliases = [(row[0], json.loads(row[1])) for row in self._db.execute("SELECT region, doc FROM aliases")]
        return keys, aliases

    def write(
        self,
        *,
        keys: Iterable[dict[str, Any]] = (),
        deleted_keys: Iterable[tuple[str, str]] = (),
        aliases: Iterable[tuple[str, dict[str, Any]]] = (),
        deleted_aliases: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Apply a set of changes in one transaction.

        Args:
            keys: key documents to insert or replace.
            deleted_keys: (region, key ID) to remove.
            aliases: (region, alias document) to insert or replace.
            deleted_aliases: (region, alias name) to remove.
        """
        if self._db is None:
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for doc in keys:
                db.execute(
                    "INSERT OR REPLACE INTO keys (region, key_id, doc) VALUES (?, ?, ?)",
                    (doc["region"], doc["key_id"], json.dumps(doc)),
                )
            for region, key_id in deleted_keys:
                db.execute("DELETE FROM keys WHERE region = ? AND key_id = ?", (region, key_id))
            for region, doc in aliases:
                db.execute(
                    "INSERT OR REPLACE INTO aliases (region, name, doc) VALUES (?, ?, ?)",
                    (region, doc["name"], json.dumps(doc)),
                )
            for region, name in deleted_aliases:
                db.execute("DELETE FROM aliases WHERE region = ? AND name = ?", (region, name))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            self._db.close()
            self._db = None
