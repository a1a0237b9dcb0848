"""Athena-shaped results: ColumnInfo, GetQueryResults pages, the CSV and ``.metadata`` output files.

* ``GetQueryResults`` (Athena API Reference): ``ResultSet.Rows[].Data[].VarCharValue`` (absent for
  NULL) and ``ResultSet.ResultSetMetadata.ColumnInfo[]``; for a SELECT the first row of the first
  page holds the column names; ``MaxResults`` is at most 1000.
* The output CSV (Athena User Guide, "Working with query results, recent queries, and output
  files"): a header row, every value double-quoted (quotes doubled), NULL as an empty unquoted
  field, ``\\n`` line ends.
* The ``.metadata`` file Athena writes next to the CSV is an undocumented binary format. We write a
  documented stand-in instead: UTF-8 JSON ``{"format": "kmslab-athena-metadata/1",
  "ColumnInfo": [...], "RowCount": n, "DataScannedInBytes": n}``. Tools that parse Athena's own
  binary ``.metadata`` cannot read it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kmslab.cloud.athena.errors import InvalidRequestException

MAX_RESULTS = 1000
METADATA_FORMAT = "kmslab-athena-metadata/1"
#: Athena (Trino) type name -> ColumnInfo Precision, as Athena reports them.
_PRECISION = {"varchar": 2147483647, "bigint": 19, "integer": 10, "double": 17, "boolean": 0, "timestamp": 3}


def athena_type(values: Sequence[Any]) -> str:
    """Return the Athena type name of a result column, from its values.

    Args:
        values: the column's values (None for NULL).

    Returns:
        ``varchar``, ``bigint``, ``double``, ``boolean``, ``timestamp``, ``date``, ``decimal``,
        ``array`` or ``row``; ``varchar`` when every value is NULL.
    """
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int):
            return "bigint"  # Trino: count(*) and sum(bigint) are bigint
        if isinstance(value, float):
            return "double"
        if isinstance(value, Decimal):
            return "decimal"
        if isinstance(value, datetime):
            return "timestamp"
        if isinstance(value, date):
            return "date"
        if isinstance(value, list | tuple):
            return "array"
        if isinstance(value, dict):
            return "row"
        return "varchar"
    return "varchar"


def text(value: Any) -> str | None:
    """Return a value as Athena renders it in ``VarCharValue`` and in the CSV (None for NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_member(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_member(v)}" for k, v in value.items()) + "}"
    return str(value)


def _member(value: Any) -> str:
    """A value inside an array or row: Trino writes a NULL member as ``null``."""
    rendered = text(value)
    return "null" if rendered is None else rendered


@dataclass(frozen=True)
class ResultTable:
    """A finished query's result.

    Args:
        columns: the column names.
        types: their Athena type names.
        rows: the values as Athena renders them (None for NULL).
    """

    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: tuple[tuple[str | None, ...], ...]

    @classmethod
    def of(cls, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> ResultTable:
        """Build from engine output (native Python values)."""
        types = tuple(athena_type([row[i] for row in rows]) for i in range(len(columns)))
        return cls(tuple(columns), types, tuple(tuple(text(v) for v in row) for row in rows))

    def column_info(self) -> list[dict[str, Any]]:
        """Return ``ResultSetMetadata.ColumnInfo``."""
        return [
            {
                "CatalogName": "hive",
                "SchemaName": "",
                "TableName": "",
                "Name": name,
                "Label": name,
                "Type": kind,
                "Precision": _PRECISION.get(kind, 0),
                "Scale": 0,
                "Nullable": "UNKNOWN",
                "CaseSensitive": kind == "varchar",
            }
            for name, kind in zip(self.columns, self.types, strict=True)
        ]

    def page(self, *, next_token: str | None = None, max_results: int = MAX_RESULTS) -> dict[str, Any]:
        """Return one GetQueryResults response (``ResultSet``, ``NextToken``, ``UpdateCount``).

        Args:
            next_token: the token of the previous page, or None for the first.
            max_results: rows per page (1-1000), the header counting as a row on the first page.

        Returns:
            The response body.

        Raises:
            InvalidRequestException: a bad token or page size.
        """
        if not 1 <= max_results <= MAX_RESULTS:
            raise InvalidRequestException(f"MaxResults must be between 1 and {MAX_RESULTS}")
        start = _decode(next_token) if next_token else 0
        # position 0 is the header row; data row i is position i + 1
        positions = range(start, min(start + max_results, len(self.rows) + 1))
        rows = []
        for position in positions:
            values = self.columns if position == 0 else self.rows[position - 1]
            rows.append({"Data": [{} if v is None else {"VarCharValue": v} for v in values]})
        body: dict[str, Any] = {
            "UpdateCount": 0,
            "ResultSet": {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": self.column_info()}},
        }
        if positions.stop <= len(self.rows):
            body["NextToken"] = _encode(positions.stop)
        return body

    def csv(self) -> bytes:
        """Return the output CSV file."""

        def line(values: Sequence[str | None]) -> str:
            return ",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values)

        return "".join(line(values) + "\n" for values in (self.columns, *self.rows)).encode()

    def metadata(self, *, data_scanned: int) -> bytes:
        """Return the ``.metadata`` stand-in (documented JSON; see the module docstring)."""
        document = {
            "format": METADATA_FORMAT,
            "ColumnInfo": self.column_info(),
            "RowCount": len(self.rows),
            "DataScannedInBytes": data_scanned,
        }
        return json.dumps(document, separators=(",", ":")).encode()


def _encode(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"row": position}).encode()).decode()


def _decode(token: str) -> int:
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))["row"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRequestException("Invalid NextToken") from exc
    if not isinstance(position, int) or position < 1:
        raise InvalidRequestException("Invalid NextToken")
    return position
