"""The offline audit engine: the Athena queries, run by DuckDB over local CloudTrail log files.

Two modes:

* **cold** - each query reads the ``.json.gz`` files directly. Only the folders inside the
  query's window are read (what partition projection does for Athena), and only the columns the
  query names are parsed (the rest of the view is NULL), which keeps DuckDB fast and small;
* **ingested** - :meth:`AuditEngine.ingest` loads every record, all columns, into a DuckDB
  database file once (new files only on later calls); queries then read that table.

Either way the query sees a table named like the Athena one, with the same columns, types and
the ``timestamp`` partition column (``yyyy/MM/dd`` from the file's folder).

A damaged log file (a record that is not standard JSON, a truncated gzip stream) does not fail the
query: DuckDB reads all files in one statement, and only when that fails are the culprits found
(by halving the file list) and read record by record (:mod:`kmslab.audit.damage`). Their sound
records are kept, the rest is skipped and reported in :attr:`QueryResult.damaged`.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from kmslab.audit import _reading, dialect, schema
from kmslab.audit.columns import needed_columns
from kmslab.audit.damage import Damage, salvage
from kmslab.audit.errors import QueryFailedError
from kmslab.audit.files import file_day, find_log_files, in_window
from kmslab.audit.queries import NamedQuery, Window, day_folder, render

_INGESTED = "kmslab_ingested_files"
_SALVAGED = "kmslab_salvaged_records"
ProgressCallback = Callable[[int, int], None]

__all__ = ["AuditEngine", "QueryResult", "file_day", "find_log_files", "needed_columns"]


@dataclass(frozen=True)
class QueryResult:
    """The answer to one query.

    Args:
        columns: the column names.
        rows: the rows, as tuples.
        damaged: what was skipped in damaged log files, one entry per file.
    """

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    damaged: tuple[Damage, ...] = ()

    def as_dicts(self) -> list[dict[str, Any]]:
        """Return the rows as dicts keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class AuditEngine:
    """Runs the audit queries over local CloudTrail log files with DuckDB.

    Args:
        source: the trail directory (searched recursively) or a list of log files.
        db: a DuckDB database file to ingest into and query from; None for cold queries.
        table: the table name the queries see.
        threads: DuckDB threads.
        memory_limit: DuckDB memory limit, e.g. ``"400MB"``.
        today: the day ``current_date`` stands for (UTC today when None).
        max_object_size: the largest uncompressed log file, in bytes.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        db: str | os.PathLike[str] | None = None,
        table: str = schema.DEFAULT_TABLE,
        threads: int = 2,
        memory_limit: str = "400MB",
        today: date | None = None,
        max_object_size: int = 16 * 2**20,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", table):
            raise QueryFailedError(f"the offline table name must be a plain identifier, not {table!r}")
        self.source = source
        self.db = Path(db) if db is not None else None
        self.table = table
        self.today = today
        self.max_object_size = max_object_size
        #: what the last :meth:`run` or :meth:`ingest` skipped in damaged files
        self.damaged: tuple[Damage, ...] = ()
        try:
            self._con = duckdb.connect(str(self.db) if self.db else ":memory:")
            spill = Path(tempfile.gettempdir()) / "kmslab-duckdb"
            self._con.execute(f"SET threads = {int(threads)}")
            self._con.execute("SET memory_limit = ?", [memory_limit])
            self._con.execute("SET preserve_insertion_order = false")
            self._con.execute("SET TimeZone = 'UTC'")
            self._con.execute("SET temp_directory = ?", [str(spill)])
            for macro in (*dialect.MACROS, *_reading.MACROS):
                self._con.execute(macro)
        except duckdb.Error as exc:
            raise QueryFailedError(f"could not open the audit database: {exc}") from exc

    def close(self) -> None:
        """Close the DuckDB connection."""
        self._con.close()

    def __enter__(self) -> AuditEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def current_day(self) -> date:
        """The day the query window ends on."""
        return self.today or datetime.now(UTC).date()

    def sql_for(self, query: NamedQuery, *, days: int | None = None, window: Window | None = None) -> str:
        """Return the DuckDB text of a query (rendered for the engine's table, then translated).

        Args:
            query: the query.
            days: the window in days (ignored when ``window`` is given).
            window: the window.

        Returns:
            The SQL DuckDB runs.
        """
        window = window or Window(days=days)
        return dialect.translate(render(query, table=self.table, window=window), today=self.today)

    def run(
        self,
        query: NamedQuery,
        *,
        days: int | None = None,
        since: date | None = None,
        until: date | None = None,
        window: Window | None = None,
    ) -> QueryResult:
        """Run one audit query.

        Cold mode reads the log files of the window; with a database, the ingested table is read
        (ingesting first if the database holds none). Damaged files are skipped and reported in
        the result, not raised.

        Args:
            query: the query.
            days: the window in days (default 30, counted back from today, or from ``until``).
            since: the first day of the window (UTC, inclusive).
            until: the last day of the window (UTC, inclusive).
            window: the whole window at once, instead of ``days``/``since``/``until``.

        Returns:
            The result.

        Raises:
            AuditError: the window is not valid.
            TrailNotFoundError: there are no log files.
            QueryFailedError: DuckDB could not run it.
        """
        window = window or Window(days=days, since=since, until=until)
        sql = self.sql_for(query, window=window)
        self.damaged = ()
        if self.db is not None:
            if not self._has_table(self.table):
                self.ingest()
            return self._result(sql)
        first = day_folder(window.first_day(self.current_day))
        last = day_folder(window.until) if window.until else None
        files = [f for f in find_log_files(self.source) if in_window(file_day(f), first, last)]
        columns = needed_columns(sql)
        self._create_view(files, columns)
        try:
            return self._result(sql, raw=True)
        except duckdb.Error as exc:
            damaged = self._find_damaged(files, columns)
            if not damaged:
                raise QueryFailedError(" ".join(str(exc).split())) from exc
        skip = set(damaged)
        sound = [f for f in files if f not in skip]
        self._create_view(sound, columns, salvaged=damaged)
        return self._result(sql)

    def execute(self, sql: str) -> QueryResult:
        """Run DuckDB SQL as is (already translated) against the current table or view.

        Args:
            sql: DuckDB SQL.

        Returns:
            The result.

        Raises:
            QueryFailedError: DuckDB could not run it.
        """
        try:
            cursor = self._con.execute(sql)
            rows = cursor.fetchall()
            columns = tuple(d[0] for d in cursor.description or ())
        except duckdb.Error as exc:
            raise QueryFailedError(" ".join(str(exc).split())) from exc
        return QueryResult(columns=columns, rows=rows)

    def ingest(self, *, batch_files: int = 20_000, progress: ProgressCallback | None = None) -> int:
        """Load every not yet ingested log file into the table (all columns).

        The new files are read by one ``INSERT ... SELECT`` over DuckDB's JSON reader (parallel,
        no Python-side parsing), in one transaction; DuckDB streams it within its memory limit.
        Several smaller statements would cost more: each commit leaves a partial row group that
        the final checkpoint then rewrites. A statement that fails is run again without its
        damaged files, which are then read record by record; what they skip is in
        :attr:`damaged`. A file with no readable record is not marked as ingested, so a
        repaired copy is picked up next time.

        Args:
            batch_files: files per statement (and transaction), which bounds the statement's size.
            progress: called with (files done, files to do) after each batch.

        Returns:
            How many records were added.

        Raises:
            QueryFailedError: there is no database file, or DuckDB failed.
            TrailNotFoundError: there are no log files.
        """
        if self.db is None:
            raise QueryFailedError("ingest needs a database file (db=...)")
        files = find_log_files(self.source)
        columns = ", ".join(f'"{name}" {kind}' for name, kind in schema.duckdb_columns())
        damaged: list[Damage] = []
        added = 0
        try:
            self._con.execute(f'CREATE TABLE IF NOT EXISTS "{self.table}" ({columns})')
            self._con.execute(f"CREATE TABLE IF NOT EXISTS {_INGESTED} (path VARCHAR PRIMARY KEY)")
            done = {row[0] for row in self._con.execute(f"SELECT path FROM {_INGESTED}").fetchall()}  # noqa: S608
            todo = [f for f in files if str(f.resolve()) not in done]
            for start in range(0, len(todo), batch_files):
                batch = todo[start : start + batch_files]
                added += self._ingest_batch(batch, damaged)
                if progress is not None:
                    progress(min(start + batch_files, len(todo)), len(todo))
            self._con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            raise QueryFailedError(f"ingest failed: {' '.join(str(exc).split())}") from exc
        finally:
            self.damaged = tuple(damaged)
        return added

    def _ingest_batch(self, batch: list[Path], damaged: list[Damage]) -> int:
        insert = f'INSERT INTO "{self.table}" '
        self._con.execute("BEGIN TRANSACTION")
        try:
            added = _count(self._con.execute(insert + _reading.select(batch, schema.COLUMNS, self.max_object_size)))
            loaded = batch
        except duckdb.Error:
            self._con.execute("ROLLBACK")
            bad = self._find_damaged(batch, schema.COLUMNS)
            if not bad:
                raise
            skip = set(bad)
            sound = [f for f in batch if f not in skip]
            self._con.execute("BEGIN TRANSACTION")
            added = 0
            if sound:
                added = _count(self._con.execute(insert + _reading.select(sound, schema.COLUMNS, self.max_object_size)))
            loaded = list(sound)
            for path in bad:
                kept, damage = self._load_salvaged(path, insert, schema.COLUMNS)
                added += kept
                if damage is not None:
                    damaged.append(damage)
                if damage is None or not damage.whole_file:
                    loaded.append(path)
        try:
            if loaded:
                self._con.execute(
                    f"INSERT INTO {_INGESTED} SELECT unnest(CAST(? AS VARCHAR[]))",  # noqa: S608 - a constant name
                    [[str(f.resolve()) for f in loaded]],
                )
            self._con.execute("COMMIT")
        except duckdb.Error:
            self._con.execute("ROLLBACK")
            raise
        return added

    def _result(self, sql: str, *, raw: bool = False) -> QueryResult:
        """Run the query; with ``raw`` a DuckDB error is raised as is (the caller handles it)."""
        if raw:
            cursor = self._con.execute(sql)
            rows = cursor.fetchall()
            result = QueryResult(columns=tuple(d[0] for d in cursor.description or ()), rows=rows)
        else:
            result = self.execute(sql)
        return QueryResult(columns=result.columns, rows=result.rows, damaged=self.damaged)

    def _has_table(self, name: str) -> bool:
        row = self._con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchone()
        return bool(row and row[0])

    def _find_damaged(self, files: Sequence[Path], columns: tuple[schema.Field, ...]) -> list[Path]:
        """Return the files DuckDB cannot read with these columns, halving the list to find them.

        Only runs after a statement failed: one probe per half that still fails, so a few damaged
        files among many cost a few reads, not one per file.
        """

        def readable(part: Sequence[Path]) -> bool:
            select = _reading.select(part, columns, self.max_object_size)
            try:
                self._con.execute(f"SELECT max(hash(t)) FROM ({select}) AS t").fetchall()  # noqa: S608
            except duckdb.Error:
                return False
            return True

        def bisect(part: Sequence[Path]) -> list[Path]:
            if len(part) == 1:
                return list(part)
            middle = len(part) // 2
            found: list[Path] = []
            for half in (part[:middle], part[middle:]):
                if not readable(half):
                    found.extend(bisect(half))
            return found

        if not files or readable(files):
            return []
        return bisect(files)

    def _load_salvaged(self, path: Path, insert: str, columns: tuple[schema.Field, ...]) -> tuple[int, Damage | None]:
        """Insert the sound records of a damaged file; return how many, and what was skipped."""
        found = salvage(path, max_size=self.max_object_size)
        statement = insert + _reading.select_records(columns)
        day = file_day(path) or ""
        try:
            kept = _count(self._con.execute(statement, ["[" + ",".join(found.records) + "]", day]))
        except duckdb.Error as exc:  # DuckDB converts any JSON value to any type; defensive only
            kept = 0
            for position in list(found.positions):
                found.drop(position, "does not fit the CloudTrail table: " + " ".join(str(exc).split())[:200])
        return kept, found.damage()

    def _create_view(
        self, files: Sequence[Path], columns: tuple[schema.Field, ...], *, salvaged: Sequence[Path] = ()
    ) -> None:
        """Point the table's name at the files (and at the sound records of damaged ones)."""
        try:
            parts = [_reading.select(files, columns, self.max_object_size)] if files else []
            if salvaged:
                self._con.execute(f"CREATE OR REPLACE TEMP TABLE {_SALVAGED} AS {_reading.empty(columns)}")
                damaged = []
                for path in salvaged:
                    _, damage = self._load_salvaged(path, f"INSERT INTO {_SALVAGED} ", columns)
                    if damage is not None:
                        damaged.append(damage)
                self.damaged = tuple(damaged)
                parts.append(f"SELECT * FROM {_SALVAGED}")  # noqa: S608 - a constant table name
            if not parts:  # an empty window: the same columns, no rows
                body = "SELECT " + ", ".join(
                    f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in schema.duckdb_columns()
                )
                parts.append(body + " WHERE false")
            self._con.execute(f'CREATE OR REPLACE TEMP VIEW "{self.table}" AS ' + "\nUNION ALL\n".join(parts))
        except duckdb.Error as exc:
            raise QueryFailedError(" ".join(str(exc).split())) from exc


def _count(cursor: duckdb.DuckDBPyConnection) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row else 0
