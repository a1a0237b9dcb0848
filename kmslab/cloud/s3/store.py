"""Where the local S3 keeps buckets, objects and uploads: SQLite metadata plus ciphertext blob files.

Durability: a blob is written to a temporary file, fsynced and renamed into ``blobs/`` (and the
directory fsynced) before the metadata transaction that names it commits with
``synchronous=FULL``; only then does the request get its answer. A crash in between leaves at most
an orphan blob, never an acknowledged object without its data. Blobs hold ciphertext only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kmslab.cloud.s3._upload_rows import UploadRows

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (bucket TEXT NOT NULL, key TEXT NOT NULL, version_id TEXT NOT NULL,
    seq INTEGER NOT NULL, latest INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (bucket, key, version_id));
CREATE INDEX IF NOT EXISTS objects_latest ON objects (bucket, latest, key);
CREATE TABLE IF NOT EXISTS uploads (upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number));
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class S3Store(UploadRows):
    """Persistence of one account's S3 state.

    Multipart uploads and their parts are :class:`~kmslab.cloud.s3._upload_rows.UploadRows`' methods.

    Args:
        root: the directory (``s3.sqlite3``, ``blobs/``, ``root.key``).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(root / "s3.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.lock = threading.RLock()
        self._seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM objects").fetchone()[0]

    def close(self) -> None:
        """Close the database."""
        with self.lock:
            self._db.close()

    # -- blobs --------------------------------------------------------------------------------

    def blob_path(self, name: str) -> Path:
        """The path of a blob file.

        Args:
            name: the blob name.

        Returns:
            The path.
        """
        return self.blobs / name

    def commit_blob(self, tmp: Path, name: str) -> None:
        """Make a written temporary file durable under its blob name.

        Args:
            tmp: the written file (already fsynced).
            name: the blob name.
        """
        tmp.replace(self.blobs / name)
        fd = os.open(self.blobs, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def remove_blobs(self, names: list[str]) -> None:
        """Delete blob files no metadata names any more (missing ones are ignored).

        Args:
            names: the blob names.
        """
        for name in names:
            (self.blobs / name).unlink(missing_ok=True)

    # -- buckets ------------------------------------------------------------------------------

    def bucket(self, name: str) -> dict[str, Any] | None:
        """Load a bucket's document.

        Args:
            name: the bucket.

        Returns:
            The document, or None.
        """
        with self.lock:
            row = self._db.execute("SELECT doc FROM buckets WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def buckets(self) -> list[tuple[str, dict[str, Any]]]:
        """All buckets, by name.

        Returns:
            (name, document) pairs.
        """
        with self.lock:
            rows = self._db.execute("SELECT name, doc FROM buckets ORDER BY name").fetchall()
        return [(name, json.loads(doc)) for name, doc in rows]

    def put_bucket(self, name: str, doc: dict[str, Any]) -> None:
        """Create or replace a bucket's document.

        Args:
            name: the bucket.
            doc: its document.
        """
        with self.lock:
            self._db.execute("INSERT OR REPLACE INTO buckets (name, doc) VALUES (?, ?)", (name, json.dumps(doc)))

    def delete_bucket(self, name: str) -> None:
        """Remove a bucket (it must be empty).

        Args:
            name: the bucket.
        """
        with self.lock:
            self._db.execute("DELETE FROM buckets WHERE name = ?", (name,))

    def bucket_is_empty(self, name: str) -> bool:
        """Tell whether a bucket holds no object versions and no uploads.

        Args:
            name: the bucket.

        Returns:
            True when empty.
        """
        with self.lock:
            obj = self._db.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone()
            up = self._db.execute("SELECT 1 FROM uploads WHERE bucket = ? LIMIT 1", (name,)).fetchone()
        return obj is None and up is None

    # -- objects ------------------------------------------------------------------------------

    def latest(self, bucket: str, key: str) -> dict[str, Any] | None:
        """The current version of an object (which may be a delete marker).

        Args:
            bucket: the bucket.
            key: the key.

        Returns:
            The version's document, or None.
        """
        with self.lock:
            row = self._db.execute(
                "SELECT doc FROM objects WHERE bucket = ? AND key = ? AND latest = 1", (bucket, key)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def version(self, bucket: str, key: str, version_id: str) -> dict[str, Any] | None:
        """One version of an object.

        Args:
            bucket: the bucket.
            key: the key.
            version_id: the version ID (``null`` for the unversioned one).

        Returns:
            The document, or None.
        """
        with self.lock:
            row = self._db.execute(
                "SELECT doc FROM objects WHERE bucket = ? AND key = ? AND version_id = ?", (bucket, key, version_id)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put_version(self, bucket: str, key: str, doc: dict[str, Any]) -> list[str]:
        """Store a new current version; a previous version with the same ID is replaced.

        Args:
            bucket: the bucket.
            key: the key.
            doc: the version's document (``version_id`` set).

        Returns:
            The blobs of a replaced version, to delete after the commit.
        """
        with self.lock:
            version_id = doc["version_id"]
            old = self._db.execute(
                "SELECT doc FROM objects WHERE bucket = ? AND key = ? AND version_id = ?", (bucket, key, version_id)
            ).fetchone()
            self._seq += 1
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "UPDATE objects SET latest = 0 WHERE bucket = ? AND key = ? AND latest = 1", (bucket, key)
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO objects (bucket, key, version_id, seq, latest, doc) VALUES (?, "
                    "?, ?, ?, 1, ?)",
                    (bucket, key, version_id, self._seq, json.dumps(doc)),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return blob_names(json.loads(old[0])) if old else []

    def set_acl(self, bucket: str, key: str, version_id: str, uid: str, acl: str) -> bool:
        """Set one version's canned ACL, if it is still the object that was read (same ``uid``).

        Read and written under the store's lock: a PutObject that replaced the version meanwhile (an
        unversioned bucket reuses the ``null`` ID) is left alone rather than overwritten with the
        old object's document.

        Args:
            bucket: the bucket.
            key: the key.
            version_id: the version ID.
            uid: the object's unique ID, as read.
            acl: the canned ACL.

        Returns:
            Whether the version was still that object (and now has the ACL).
        """
        with self.lock:
            row = self._db.execute(
                "SELECT doc FROM objects WHERE bucket = ? AND key = ? AND version_id = ?", (bucket, key, version_id)
            ).fetchone()
            doc = json.loads(row[0]) if row else None
            if doc is None or doc.get("uid") != uid:
                return False
            doc["acl"] = acl
            self._db.execute(
                "UPDATE objects SET doc = ? WHERE bucket = ? AND key = ? AND version_id = ?",
                (json.dumps(doc), bucket, key, version_id),
            )
        return True

    def delete_version(self, bucket: str, key: str, version_id: str) -> list[str]:
        """Remove one version for good; the newest remaining version becomes current.

        Args:
            bucket: the bucket.
            key: the key.
            version_id: the version.

        Returns:
            Its blobs, to delete after the commit.
        """
        with self.lock:
            row = self._db.execute(
                "SELECT doc FROM objects WHERE bucket = ? AND key = ? AND version_id = ?", (bucket, key, version_id)
            ).fetchone()
            if row is None:
                return []
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "DELETE FROM objects WHERE bucket = ? AND key = ? AND version_id = ?", (bucket, key, version_id)
                )
                self._db.execute(
                    "UPDATE objects SET latest = 1 WHERE bucket = ? AND key = ? AND seq = "
                    "(SELECT MAX(seq) FROM objects WHERE bucket = ? AND key = ?) AND "
                    "NOT EXISTS (SELECT 1 FROM objects WHERE bucket = ? AND key = ? AND latest = 1)",
                    (bucket, key, bucket, key, bucket, key),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return blob_names(json.loads(row[0]))

    def list_latest(self, bucket: str, prefix: str, after: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Iterate the current versions (delete markers included) under a prefix, by key, after ``after``.

        Args:
            bucket: the bucket.
            prefix: the key prefix.
            after: start after this key ("" for the start).

        Yields:
            (key, document) pairs.
        """
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None
        low = max(after, prefix) if after else prefix
        sql = "SELECT key, doc FROM objects WHERE bucket = ? AND latest = 1 AND key >= ?"
        args: list[Any] = [bucket, low]
        if upper is not None:
            sql += " AND key < ?"
            args.append(upper)
        sql += " ORDER BY key"
        with self.lock:
            rows = self._db.execute(sql, args).fetchall()
        for key, doc in rows:
            if after and key <= after:
                continue
            yield key, json.loads(doc)

    def list_versions(self, bucket: str, prefix: str) -> list[tuple[str, bool, dict[str, Any]]]:
        """Every version under a prefix, by key then newest first.

        Args:
            bucket: the bucket.
            prefix: the key prefix.

        Returns:
            (key, is_latest, document) triples.
        """
        with self.lock:
            rows = self._db.execute(
                "SELECT key, latest, doc FROM objects WHERE bucket = ? AND substr(key, 1, ?) = ? ORDER BY "
                "key, seq DESC",
                (bucket, len(prefix), prefix),
            ).fetchall()
        return [(key, bool(latest), json.loads(doc)) for key, latest, doc in rows]

    # -- meta ---------------------------------------------------------------------------------

    def meta(self, name: str) -> str | None:
        """Read a named value (e.g. the ARN of the ``aws/s3`` key of a region).

        Args:
            name: the name.

        Returns:
            The value, or None.
        """
        with self.lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, name: str, value: str) -> None:
        """Store a named value.

        Args:
            name: the name.
            value: the value.
        """
        with self.lock:
            self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))


def blob_names(doc: dict[str, Any]) -> list[str]:
    """The blob files an object version's document names.

    Args:
        doc: the version's document.

    Returns:
        The blob names.
    """
    return [part["blob"] for part in doc.get("parts", [])]
