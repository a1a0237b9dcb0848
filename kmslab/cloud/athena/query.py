"""Running one Athena query: resolve the table, read only the projected objects, run it on DuckDB.

The SQL runs through :mod:`kmslab.audit`'s one translation layer (``AuditEngine``, which applies
``kmslab.audit.dialect``), so Athena queries and ``kmslab audit query`` answer alike.

Objects are read through a caller-supplied :class:`ObjectSource` (the gateway passes the local S3
acting as the caller, ``invokedBy athena.amazonaws.com``). They are staged for DuckDB in a private
temporary folder, on the RAM-backed ``/dev/shm`` when the system has one, and removed when the
query ends; the audit engine reads files, and has no public entry point for in-memory objects yet.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from kmslab.audit.engine import AuditEngine, file_day
from kmslab.audit.errors import AuditError, QueryFailedError
from kmslab.audit.queries import NamedQuery
from kmslab.cloud.athena.errors import QueryFailed
from kmslab.cloud.athena.projection import locations, parameters_of, split_location
from kmslab.cloud.athena.results import ResultTable

MAX_QUERY_BYTES = 262144  # Athena's query string quota
CATALOG = "awsdatacatalog"
_IDENT = r'(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_]*)'
_TABLE_REF = re.compile(rf"\b(?:FROM|JOIN)\s+(?!UNNEST\b)({_IDENT}(?:\s*\.\s*{_IDENT}){{0,2}})", re.IGNORECASE)
_SELECT = re.compile(r"^\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*(SELECT|WITH)\b", re.IGNORECASE | re.DOTALL)
_STAGE_TABLE = "athena_source"
#: DuckDB's error classes -> Athena's error names (the prefix of StateChangeReason).
_ERRORS = (
    ("Parser Error", "SYNTAX_ERROR"),
    ("Binder Error", "COLUMN_NOT_FOUND"),
    ("Catalog Error: Scalar Function", "FUNCTION_NOT_FOUND"),
    ("Catalog Error", "TABLE_NOT_FOUND"),
    ("Conversion Error", "INVALID_CAST_ARGUMENT"),
    ("Invalid Input Error", "INVALID_FUNCTION_ARGUMENT"),
)


class ObjectSource(Protocol):
    """Reads S3 as the query's caller; raises PermissionError when S3 (or KMS) refuses."""

    def list_objects(self, bucket: str, prefix: str) -> list[tuple[str, int]]:
        """Return ``(key, size)`` of the objects under ``prefix``."""
        ...

    def get_object(self, bucket: str, key: str) -> bytes:
        """Return an object's (decrypted) body."""
        ...


#: ``(database, table) -> Glue TableInput`` or None when the catalog has no such table.
TableLookup = Callable[[str, str], Mapping[str, Any] | None]


@dataclass(frozen=True)
class QueryOutcome:
    """A query's result and what it cost.

    Args:
        result: the rows.
        data_scanned: bytes read from S3 (``Statistics.DataScannedInBytes``).
        objects: how many objects were read.
        locations: the S3 locations (projected partitions) read.
    """

    result: ResultTable
    data_scanned: int
    objects: int
    locations: tuple[str, ...]


def _unquote(part: str) -> str:
    return part[1:-1] if part.startswith('"') else part.lower()


def _mask(sql: str) -> str:
    """Blank comments and string literals (same length), so only SQL structure is searched."""

    def blank(match: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    return re.sub(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'", blank, sql, flags=re.DOTALL)


def _position(sql: str, offset: int) -> str:
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}:{column}"


def resolve_table(sql: str, database: str | None, catalog: TableLookup) -> tuple[str, Mapping[str, Any], str]:
    """Find the one catalog table a query reads.

    Args:
        sql: the query.
        database: ``QueryExecutionContext.Database``.
        catalog: the Glue lookup.

    Returns:
        ``(reference as written, TableInput, query with the reference replaced by {{table}})``.

    Raises:
        QueryFailed: no table, several tables, or one the catalog does not hold.
    """
    masked = _mask(sql)
    refs = [m for m in _TABLE_REF.finditer(masked) if not masked[m.end() :].lstrip().startswith("(")]
    if not refs:
        raise QueryFailed("NOT_SUPPORTED: the local Athena runs queries that read one catalog table")
    names = {re.sub(r"\s+", "", m.group(1)).lower() for m in refs}
    if len(names) > 1:
        raise QueryFailed("NOT_SUPPORTED: the local Athena runs queries over one table; this one reads several")
    ref = refs[0]
    written = sql[ref.start(1) : ref.end(1)]
    parts = [_unquote(p.strip()) for p in re.findall(_IDENT, written)]
    if len(parts) == 3 and parts[0] != CATALOG:
        raise QueryFailed(f"CATALOG_NOT_FOUND: {_position(sql, ref.start(1))}: Catalog '{parts[0]}' does not exist")
    if len(parts) == 1 and not database:
        raise QueryFailed(f"SCHEMA_NOT_FOUND: {_position(sql, ref.start(1))}: Schema must be specified")
    db, table = (parts[-2], parts[-1]) if len(parts) > 1 else (str(database), parts[0])
    found = catalog(db, table)
    if found is None:
        raise QueryFailed(
            f"TABLE_NOT_FOUND: {_position(sql, ref.start(1))}: Table '{CATALOG}.{db}.{table}' does not exist"
        )
    rewritten = sql
    for match in sorted(refs, key=lambda m: m.start(1), reverse=True):
        rewritten = rewritten[: match.start(1)] + "{{table}}" + rewritten[match.end(1) :]
    return written, found, rewritten


def _stage_root() -> str | None:
    shm = Path("/dev/shm")  # noqa: S108 - RAM-backed, so staged plaintext never reaches a disk
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _failure(exc: Exception) -> QueryFailed:
    message = " ".join(str(exc).split())
    for marker, name in _ERRORS:
        if message.startswith(marker):
            return QueryFailed(f"{name}: {message.split(':', 1)[1].strip()}")
    return QueryFailed(f"GENERIC_USER_ERROR: {message}")


def run_query(
    sql: str,
    *,
    database: str | None,
    catalog: TableLookup,
    source: ObjectSource,
    today: date,
    bytes_cutoff: int | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> QueryOutcome:
    """Run one Athena query.

    Args:
        sql: the query text.
        database: the execution context's database.
        catalog: the Glue lookup.
        source: reads S3 as the caller.
        today: the day ``current_date`` (and projection's ``NOW``) stands for.
        bytes_cutoff: the workgroup's ``BytesScannedCutoffPerQuery``, or None.
        cancelled: tells whether StopQueryExecution was called.

    Returns:
        The outcome.

    Raises:
        QueryFailed: the query failed (state FAILED) or was cancelled (state CANCELLED).
    """
    if len(sql.encode()) > MAX_QUERY_BYTES:
        raise QueryFailed(f"QUERY_TOO_LARGE: the query string is longer than {MAX_QUERY_BYTES} bytes")
    if not _SELECT.match(sql):
        raise QueryFailed("NOT_SUPPORTED: the local Athena runs SELECT queries only")
    _, table, templated = resolve_table(sql, database, catalog)
    descriptor = table.get("StorageDescriptor") or {}
    wanted = locations(parameters_of(table), sql, today, str(descriptor.get("Location", "")))
    stage = Path(tempfile.mkdtemp(prefix="kmslab-athena-", dir=_stage_root()))
    try:
        files, scanned = [], 0
        for location in wanted:
            bucket, prefix = split_location(location)
            try:
                listed = source.list_objects(bucket, prefix)
            except PermissionError as exc:
                raise QueryFailed(f"Permission denied on S3 path: {location}", category=2) from exc
            for key, size in listed:
                name = key.rsplit("/", 1)[-1]
                if name.startswith(("_", ".")):
                    continue  # Hive hidden files, as Athena skips them
                if cancelled():
                    raise QueryFailed("Query cancelled by user", state="CANCELLED")
                if bytes_cutoff is not None and scanned + size > bytes_cutoff:
                    raise QueryFailed("Query cancelled! Bytes scanned limit was exceeded", state="CANCELLED")
                try:
                    body = source.get_object(bucket, key)
                except PermissionError as exc:
                    raise QueryFailed(f"Permission denied on S3 path: s3://{bucket}/{key}") from exc
                scanned += len(body)
                path = stage / bucket / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(body)
                files.append(path)
        rows = _execute(templated, files, today)
        if cancelled():
            raise QueryFailed("Query cancelled by user", state="CANCELLED")
        return QueryOutcome(rows, scanned, len(files), tuple(wanted))
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _execute(templated: str, files: list[Path], today: date) -> ResultTable:
    days = [d for d in (file_day(f) for f in files) if d]
    oldest = min(days) if days else today.strftime("%Y/%m/%d")
    span = (today - date(*(int(x) for x in oldest.split("/")))).days + 1
    window = min(max(span, 1), 3650)
    try:
        # The engine runs named queries; an ad-hoc one carries the {{days}} placeholder in a comment.
        query = NamedQuery(name="athena_query", description="Athena query", sql=templated + "\n-- window {{days}}\n")
        with AuditEngine(files, table=_STAGE_TABLE, today=today) as engine:
            result = engine.run(query, days=window)
    except QueryFailedError as exc:
        raise _failure(exc) from exc
    except AuditError as exc:
        raise QueryFailed(f"GENERIC_USER_ERROR: {exc}") from exc
    return ResultTable.of(result.columns, result.rows)
