"""Where the local KMS keeps its state: an embedded SQLite database, or nothing (in memory).

Key material is sealed with AES-256-GCM under a local root key (``root.key``) before it reaches
the database, so the data directory never holds plaintext key material. Every write is one
transaction. The directory is 0700 and every file in it 0600 (SQLite gives its ``-wal`` and
``-shm`` files the database file's mode, so the database file is made 0600 first).

The root key is written once, atomically (temporary file, fsync, link into place, fsync the
directory): a crash leaves either no ``root.key`` or a whole one. A damaged data directory (a
``root.key`` that is not 32 bytes, a missing ``root.key`` next to a database that holds keys, a
database SQLite cannot read) is refused with one :class:`DamagedStoreError` line that names the
file and what to do; a root key is never replaced behind the user's back.
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

from kmslab._fsutil import FILE_MODE, private_dir, private_file, write_private_atomic
from kmslab.kms.errors import KMSInternalException

ROOT_KEY_FILE = "root.key"
DB_FILE = "kms.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (region TEXT NOT NULL, key_id TEXT NOT NULL, doc TEXT NOT NULL,
                                 PRIMARY KEY (region, key_id));
CREATE TABLE IF NOT EXISTS aliases (region TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL,
                                    PRIMARY KEY (region, name));
"""


class DamagedStoreError(KMSInternalException):
    """The data directory is damaged: the message names the file and what to do (the CLI prints it on one line)."""


_START_OVER = "or move the data directory away to start with no keys"


def _load_root_key(path: Path, db_path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        keys = _count_keys(db_path)
        if keys:
            raise DamagedStoreError(
                f"{path} is missing, but {db_path} holds {keys} key(s) sealed under it: restore {path.name} "
                f"from a backup, {_START_OVER}"
            ) from None
        key = os.urandom(32)
        try:
            write_private_atomic(path, key, replace=False)
        except FileExistsError:  # another process created it first: use theirs
            return _load_root_key(path, db_path)
        return key
    except OSError as exc:
        raise DamagedStoreError(f"{path}: cannot read the root key: {exc.strerror or exc}") from None
    if len(data) != 32:
        raise DamagedStoreError(
            f"{path} is damaged ({len(data)} bytes; a root key is 32): restore it from a backup, {_START_OVER}"
        )
    return data


def _count_keys(db_path: Path) -> int:
    """Count the keys in an existing database without creating one (0 when there is none)."""
    if not db_path.exists():
        return 0
    try:
        db = sqlite3.connect(db_path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            row = db.execute("SELECT count(*) FROM keys").fetchone()
        finally:
            db.close()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise _damaged_db(db_path, exc) from None
    except sqlite3.DatabaseError as exc:
        raise _damaged_db(db_path, exc) from None
    return int(row[0])


def _damaged_db(db_path: Path, exc: BaseException) -> DamagedStoreError:
    return DamagedStoreError(
        f"{db_path} is damaged ({exc}): restore it (with its -wal file) from a backup, {_START_OVER}"
    )


class Store:
    """Persistence for keys and aliases.

    Args:
        data_dir: the directory to keep ``kms.sqlite3`` and ``root.key`` in, or None for memory only.

    Raises:
        DamagedStoreError: the directory's root key or database is damaged or missing (one clear line).
        OSError: the directory cannot be created.
    """

    def __init__(self, data_dir: str | Path | None) -> None:
        self._db: sqlite3.Connection | None = None
        self._db_path = self._root_key_path = Path()
        if data_dir is None:
            self._root_key = os.urandom(32)
            self._root = AESGCM(self._root_key)
            return
        directory = private_dir(data_dir)
        db_path = self._db_path = directory / DB_FILE
        self._root_key_path = directory / ROOT_KEY_FILE
        self._root_key = _load_root_key(self._root_key_path, db_path)
        self._root = AESGCM(self._root_key)
        for name in (DB_FILE, DB_FILE + "-wal", DB_FILE + "-shm"):  # an older, looser mode is tightened
            file = directory / name
            if name == DB_FILE or file.exists():
                private_file(file)
        try:
            self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            problems = [row[0] for row in self._db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(str(p) for p in problems[:2])[:200])
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise _damaged_db(db_path, exc) from None
        for name in (DB_FILE + "-wal", DB_FILE + "-shm"):  # created by SQLite with the db file's mode
            file = directory / name
            if file.exists() and file.stat().st_mode & 0o777 != FILE_MODE:
                private_file(file)

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
            if self._db is not None:
                raise DamagedStoreError(
                    f"{self._root_key_path} does not open the key material in {self._db_path} (the root key was "
                    f"replaced, or the database is damaged): restore {ROOT_KEY_FILE} from a backup, {_START_OVER}"
                ) from None
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
        try:
            keys = [json.loads(row[0]) for row in self._db.execute("SELECT doc FROM keys")]
            aliases = [(row[0], json.loads(row[1])) for row in self._db.execute("SELECT region, doc FROM aliases")]
        except (sqlite3.DatabaseError, ValueError) as exc:
            raise _damaged_db(self._db_path, exc) from None
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
