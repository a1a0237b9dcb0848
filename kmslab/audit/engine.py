"""The offline audit engine: the Athena queries, run by DuckDB over local CloudTrail log files.

Two modes:

* **cold** - each query reads the ``.json.gz`` files directly. Only the folders inside the
  query's window are read (what partition projection does for Athena), and only the columns the
  query names are parsed (the rest of the view is NULL), which keeps DuckDB fast and small;
* **ingested** - :meth:`AuditEngine.ingest` loads every record, all columns, into a DuckDB
  database file once (new files only on later calls); queries then read that table.

Either way the query sees a table named like the Athena one, with the same columns, types and
the ``timestamp`` partition column (``yyyy/MM/dd`` from the file's folder).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from kmslab.audit import dialect, schema
from kmslab.audit.errors import QueryFailedError, TrailNotFoundError
from kmslab.audit.queries import DEFAULT_DAYS, NamedQuery, render

_DAY_FOLDER = re.compile(r"[/\\](\d{4})[/\\](\d{2})[/\\](\d{2})[/\\][^/\\]+$")
_INGESTED = "kmslab_ingested_files"
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class QueryResult:
    """The answer to one query.

    Args:
        columns: the column names.
        rows: the rows, as tuples.
    """

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def as_dicts(self) -> list[dict[str, Any]]:
        """Return the rows as dicts keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def find_log_files(source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Return the CloudTrail log files of a trail directory (or a list of files), sorted.

    Args:
        source: a directory searched recursively for ``*.json.gz``, or files.

    Returns:
        The files.

    Raises:
        TrailNotFoundError: the directory does not exist or holds no log file.
    """
    if isinstance(source, str | os.PathLike):
        root = Path(source)
        if root.is_file():
            return [root]
        if not root.is_dir():
            raise TrailNotFoundError(f"no trail directory at {root}")
        files = sorted(p for p in root.rglob("*.json.gz") if not p.name.startswith("."))
        if not files:
            raise TrailNotFoundError(f"no CloudTrail log files (*.json.gz) under {root}")
        return files
    return sorted(Path(p) for p in source)


def file_day(path: Path) -> str | None:
    """Return the ``yyyy/MM/dd`` partition of a log file, from its folder, or None.

    Args:
        path: a log file in the CloudTrail layout.

    Returns:
        For example ``2026/01/31``.
    """
    match = _DAY_FOLDER.search(str(path))
    return "/".join(match.groups()) if match else None


def needed_columns(sql: str) -> tuple[schema.Field, ...]:
    """Return the table columns a query names, pruned to the struct fields it names.

    A struct column named only as ``col.field`` is read with just those fields; named bare, it is
    read whole. Columns the query never names need not be parsed at all.

    Args:
        sql: the query.

    Returns:
        The columns to read, in table order; at least one.
    """
    words = {word.lower() for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
    used: list[schema.Field] = []
    for col in schema.COLUMNS:
        if col.name not in words:
            continue
        if col.type.kind != "struct":
            used.append(col)
            continue
        members = {m.lower() for m in re.findall(rf"\b{col.name}\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)", sql, re.IGNORECASE)}
        bare = re.search(rf"\b{col.name}\b(?!\s*\.)", sql, re.IGNORECASE) is not None
        fields = tuple(f for f in col.type.fields if f.name in members)
        if bare or not fields:
            used.append(col)
        else:
            used.append(schema.Field(col.name, schema.Type("struct", fields=fields), col.source))
    return tuple(used) or (schema.COLUMNS[0],)


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
        try:
            self._con = duckdb.connect(str(self.db) if self.db else ":memory:")
            spill = Path(tempfile.gettempdir()) / "kmslab-duckdb"
            self._con.execute(f"SET threads = {int(threads)}")
            self._con.execute("SET memory_limit = ?", [memory_limit])
            self._con.execute("SET preserve_insertion_order = false")
            self._con.execute("SET TimeZone = 'UTC'")
            self._con.execute("SET temp_directory = ?", [str(spill)])
            for macro in dialect.MACROS:
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

    def sql_for(self, query: NamedQuery, *, days: int = DEFAULT_DAYS) -> str:
        """Return the DuckDB text of a query (rendered for the engine's table, then translated).

        Args:
            query: the query.
            days: the window.

        Returns:
            The SQL DuckDB runs.
        """
        return dialect.translate(render(query, table=self.table, days=days), today=self.today)

    def run(self, query: NamedQuery, *, days: int = DEFAULT_DAYS) -> QueryResult:
        """Run one audit query.

        Cold mode reads the log files of the window; with a database, the ingested table is read
        (ingesting first if the database holds none).

        Args:
            query: the query.
            days: the window in days.

        Returns:
            The result.

        Raises:
            TrailNotFoundError: there are no log files.
            QueryFailedError: DuckDB could not run it.
        """
        sql = self.sql_for(query, days=days)
        if self.db is not None:
            if not self._has_table(self.table):
                self.ingest()
        else:
            cutoff = (self.current_day - timedelta(days=days)).strftime("%Y/%m/%d")
            files = [f for f in find_log_files(self.source) if (file_day(f) or cutoff) >= cutoff]
            self._create_view(files, needed_columns(sql))
        return self.execute(sql)

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

    def ingest(self, *, batch_files: int = 200, progress: ProgressCallback | None = None) -> int:
        """Load every not yet ingested log file into the table (all columns).

        Args:
            batch_files: files per DuckDB statement (bounds memory).
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
        in_transaction = False
        try:
            self._con.execute(f'CREATE TABLE IF NOT EXISTS "{self.table}" ({columns})')
            self._con.execute(f"CREATE TABLE IF NOT EXISTS {_INGESTED} (path VARCHAR PRIMARY KEY)")
            done = {row[0] for row in self._con.execute(f"SELECT path FROM {_INGESTED}").fetchall()}  # noqa: S608
            todo = [f for f in files if str(f.resolve()) not in done]
            added = 0
            for start in range(0, len(todo), batch_files):
                batch = todo[start : start + batch_files]
                self._con.execute("BEGIN TRANSACTION")
                in_transaction = True
                inserted = self._con.execute(
                    f'INSERT INTO "{self.table}" {self._select(batch, schema.COLUMNS, exact_types=True)}'
                ).fetchone()
                self._con.executemany(
                    f"INSERT INTO {_INGESTED} VALUES (?)",  # noqa: S608 - a constant table name
                    [[str(f.resolve())] for f in batch],
                )
                self._con.execute("COMMIT")
                in_transaction = False
                added += int(inserted[0]) if inserted else 0
                if progress is not None:
                    progress(min(start + batch_files, len(todo)), len(todo))
            self._con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            if in_transaction:
                self._con.execute("ROLLBACK")
            raise QueryFailedError(f"ingest failed: {' '.join(str(exc).split())}") from exc
        return added

    def _has_table(self, name: str) -> bool:
        row = self._con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchone()
        return bool(row and row[0])

    def _select(self, files: Sequence[Path], columns: tuple[schema.Field, ...], *, exact_types: bool) -> str:
        """Return the SELECT that reads log files as the table's rows (unread columns NULL).

        With ``exact_types`` struct fields are renamed to the table's lower-case names (for the
        ingested table); otherwise the raw structs are passed through, since DuckDB resolves
        struct fields case-insensitively, exactly as Athena does (cheaper for cold queries).
        """
        listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        read_type = schema.json_read_type(columns)
        wanted = {c.name: c for c in columns}
        projections = []
        for col in schema.COLUMNS:
            if col.name not in wanted:
                expr = f"CAST(NULL AS {col.type.duckdb()})"
            elif exact_types:
                expr = schema.view_expression(col, f'r."{col.source}"')
            else:
                expr = f'r."{col.source}"'
            projections.append(f'{expr} AS "{col.name}"')
        projections.append(f'day AS "{schema.PARTITION_COLUMN}"')
        day = r"regexp_extract(replace(filename, '\', '/'), '(\d{4}/\d{2}/\d{2})/[^/]*$', 1)"
        reader = (
            f"read_json([{listing}], columns = {{'Records': '{read_type}'}}, records = true, filename = true, "
            f"compression = 'gzip', maximum_object_size = {int(self.max_object_size)})"
        )
        # built from the schema and escaped file names only, never from user text
        select = "SELECT " + ",\n  ".join(projections)
        return f"{select}\nFROM (SELECT unnest(Records) AS r, {day} AS day FROM {reader})"  # noqa: S608

    def _create_view(self, files: Sequence[Path], columns: tuple[schema.Field, ...]) -> None:
        try:
            if files:
                body = self._select(files, columns, exact_types=False)
            else:  # an empty window: the same columns, no rows
                body = "SELECT " + ", ".join(
                    f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in schema.duckdb_columns()
                )
                body += " WHERE false"
            self._con.execute(f'CREATE OR REPLACE TEMP VIEW "{self.table}" AS {body}')
        except duckdb.Error as exc:
            raise QueryFailedError(" ".join(str(exc).split())) from exc
