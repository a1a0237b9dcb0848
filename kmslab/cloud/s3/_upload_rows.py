"""The multipart uploads and their parts, as rows of the local S3's SQLite store (:mod:`kmslab.cloud.s3.store`)."""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any


class UploadRows:
    """The ``uploads`` and ``parts`` tables of :class:`kmslab.cloud.s3.store.S3Store` (which it is a base of).

    The store opens the database and holds the lock; every method takes the lock for its statements.
    """

    _db: sqlite3.Connection
    lock: threading.RLock

    def put_upload(self, upload_id: str, bucket: str, key: str, doc: dict[str, Any]) -> None:
        """Record a multipart upload.

        Args:
            upload_id: its ID.
            bucket: the bucket.
            key: the key.
            doc: its document.
        """
        with self.lock:
            self._db.execute(
                "INSERT OR REPLACE INTO uploads (upload_id, bucket, key, doc) VALUES (?, ?, ?, ?)",
                (upload_id, bucket, key, json.dumps(doc)),
            )

    def upload(self, upload_id: str) -> tuple[str, str, dict[str, Any]] | None:
        """Load a multipart upload.

        Args:
            upload_id: its ID.

        Returns:
            (bucket, key, document), or None.
        """
        with self.lock:
            row = self._db.execute("SELECT bucket, key, doc FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
        return (row[0], row[1], json.loads(row[2])) if row else None

    def uploads(self, bucket: str) -> list[tuple[str, str, dict[str, Any]]]:
        """The bucket's multipart uploads in progress.

        Args:
            bucket: the bucket.

        Returns:
            (upload_id, key, document) triples.
        """
        with self.lock:
            rows = self._db.execute(
                "SELECT upload_id, key, doc FROM uploads WHERE bucket = ? ORDER BY key", (bucket,)
            ).fetchall()
        return [(u, k, json.loads(d)) for u, k, d in rows]

    def put_part(self, upload_id: str, number: int, doc: dict[str, Any]) -> list[str]:
        """Record an uploaded part (replacing one with the same number).

        Args:
            upload_id: the upload.
            number: the part number.
            doc: the part's document.

        Returns:
            The replaced part's blobs, to delete.
        """
        with self.lock:
            old = self._db.execute(
                "SELECT doc FROM parts WHERE upload_id = ? AND part_number = ?", (upload_id, number)
            ).fetchone()
            self._db.execute(
                "INSERT OR REPLACE INTO parts (upload_id, part_number, doc) VALUES (?, ?, ?)",
                (upload_id, number, json.dumps(doc)),
            )
        return [json.loads(old[0])["blob"]] if old else []

    def parts(self, upload_id: str) -> dict[int, dict[str, Any]]:
        """The parts of an upload.

        Args:
            upload_id: the upload.

        Returns:
            Part number -> document.
        """
        with self.lock:
            rows = self._db.execute("SELECT part_number, doc FROM parts WHERE upload_id = ?", (upload_id,)).fetchall()
        return {number: json.loads(doc) for number, doc in rows}

    def drop_upload(self, upload_id: str) -> None:
        """Forget an upload and its parts (their blobs are the caller's to delete or keep).

        Args:
            upload_id: the upload.
        """
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
            self._db.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
            self._db.execute("COMMIT")
