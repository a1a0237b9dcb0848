"""A small durable document store (SQLite, ``synchronous=FULL``) for the services the cloud implements itself."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any


class DocStore:
    """JSON documents by (kind, name); every write is committed durably before it returns.

    Args:
        path: the database file.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS docs (kind TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL, "
            "PRIMARY KEY (kind, name))"
        )
        self.lock = threading.RLock()

    def close(self) -> None:
        """Close the database."""
        with self.lock:
            self._db.close()

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """Load a document.

        Args:
            kind: its kind.
            name: its name.

        Returns:
            The document, or None.
        """
        with self.lock:
            row = self._db.execute("SELECT doc FROM docs WHERE kind = ? AND name = ?", (kind, name)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, name: str, doc: dict[str, Any]) -> None:
        """Store a document.

        Args:
            kind: its kind.
            name: its name.
            doc: the document.
        """
        with self.lock:
            self._db.execute(
                "INSERT OR REPLACE INTO docs (kind, name, doc) VALUES (?, ?, ?)", (kind, name, json.dumps(doc))
            )

    def delete(self, kind: str, name: str) -> None:
        """Remove a document (no error when missing).

        Args:
            kind: its kind.
            name: its name.
        """
        with self.lock:
            self._db.execute("DELETE FROM docs WHERE kind = ? AND name = ?", (kind, name))

    def items(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        """The documents of a kind whose names start with ``prefix``, by name.

        Args:
            kind: the kind.
            prefix: the name prefix.

        Returns:
            (name, document) pairs.
        """
        with self.lock:
            rows = self._db.execute(
                "SELECT name, doc FROM docs WHERE kind = ? AND substr(name, 1, ?) = ? ORDER BY name",
                (kind, len(prefix), prefix),
            ).fetchall()
        return [(name, json.loads(doc)) for name, doc in rows]
