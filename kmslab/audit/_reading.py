"""How the engine reads CloudTrail log files as rows of the Athena table: the DuckDB SQL it builds.

Every statement is built from the schema and from escaped file names only, never from user text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kmslab.audit import schema

#: Columns whose JSON value may be an object, read as its JSON text: where a NaN or Infinity would hide.
JSON_TEXT = frozenset({"requestparameters", "responseelements", "additionaleventdata", "serviceeventdetails"})

#: The partition value from a file's folder: ``yyyy/MM/dd`` (empty outside the CloudTrail layout).
_DAY = r"regexp_extract(replace(filename, '\', '/'), '(\d{4}/\d{2}/\d{2})/[^/]*$', 1)"

#: DuckDB's JSON reader accepts NaN and Infinity, which RFC 8259 does not: fail the read on them
#: (the damage path then skips and reports the record). Strings are removed before looking for
#: the words, so a string that holds "NaN" is fine; cheap unless the text holds those words at all.
MACROS: tuple[str, ...] = (
    r"""CREATE OR REPLACE MACRO kmslab_standard_json(x) AS
    CASE WHEN (contains(x, 'NaN') OR contains(x, 'Infinity'))
              AND regexp_matches(regexp_replace(x, '"(?:[^"\\]|\\.)*"', '', 'g'), 'NaN|Infinity')
         THEN error('a record holds NaN or Infinity, which is not standard JSON')
         ELSE x END""",
)


def projection(columns: tuple[schema.Field, ...]) -> str:
    """Return the SELECT list that turns ``r`` (a record) and ``day`` into the table's row.

    Structs keep the JSON's field names (``invokedBy``): DuckDB resolves struct fields by name
    case-insensitively, exactly as Athena does, and an insert into the ingested table casts them
    to its lower-case names by name, so no renaming pass is needed. The columns that hold JSON
    text are checked for NaN and Infinity. Columns not read are NULL.

    Args:
        columns: the columns to read.

    Returns:
        ``SELECT ...`` (no FROM).
    """
    wanted = {c.name for c in columns}
    projections = []
    for col in schema.COLUMNS:
        if col.name not in wanted:
            expr = f"CAST(NULL AS {col.type.duckdb()})"
        elif col.name in JSON_TEXT:
            expr = f'kmslab_standard_json(r."{col.source}")'
        else:
            expr = f'r."{col.source}"'
        projections.append(f'{expr} AS "{col.name}"')
    projections.append(f'day AS "{schema.PARTITION_COLUMN}"')
    return "SELECT " + ",\n  ".join(projections)


def reader(files: Sequence[Path], columns: tuple[schema.Field, ...], max_object_size: int) -> str:
    """Return DuckDB's JSON reader over log files: one row per file, its ``Records`` list.

    The format is given (``unstructured``: one JSON document per file, however laid out), so
    DuckDB does not sniff each file for it.

    Args:
        files: the log files.
        columns: the columns to read.
        max_object_size: the largest uncompressed file, in bytes.

    Returns:
        The ``read_json(...)`` call.
    """
    listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    read_type = schema.json_read_type(columns)
    return (
        f"read_json([{listing}], columns = {{'Records': '{read_type}'}}, format = 'unstructured', records = true, "
        f"filename = true, compression = 'gzip', maximum_object_size = {int(max_object_size)})"
    )


def select(files: Sequence[Path], columns: tuple[schema.Field, ...], max_object_size: int) -> str:
    """Return the SELECT that reads log files as the table's rows (unread columns NULL).

    Args:
        files: the log files (at least one).
        columns: the columns to read.
        max_object_size: the largest uncompressed file, in bytes.

    Returns:
        The statement.
    """
    source = f"(SELECT unnest(Records) AS r, {_DAY} AS day FROM {reader(files, columns, max_object_size)})"  # noqa: S608
    return f"{projection(columns)}\nFROM {source}"


def select_records(columns: tuple[schema.Field, ...]) -> str:
    """Return the SELECT that reads records given as one JSON array text (parameter 1) of a day (parameter 2).

    The records are converted by the same rules as :func:`select`'s, so a record read from a
    damaged file lands exactly as it would from a sound one.

    Args:
        columns: the columns to read.

    Returns:
        The statement, with two ``?`` parameters.
    """
    structure = '"' + schema.json_read_type(columns).replace('"', '\\"') + '"'
    return f"{projection(columns)}\nFROM (SELECT unnest(from_json(?, '{structure}')) AS r, ? AS day)"


def empty(columns: tuple[schema.Field, ...]) -> str:
    """Return a SELECT with :func:`select`'s columns and types, and no rows.

    Args:
        columns: the columns to read.

    Returns:
        The statement.
    """
    element = schema.json_read_type(columns)[: -len("[]")]
    return f"{projection(columns)}\nFROM (SELECT CAST(NULL AS {element}) AS r, '' AS day) WHERE false"
