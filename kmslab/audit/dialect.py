"""The one translation layer from Athena's SQL (Trino) to DuckDB's.

The audit queries are written once, for Athena. To run the very same text offline, DuckDB gets
macros named like the Trino functions the queries use, and two constructs that differ between
the engines are rewritten:

* ``CROSS|LEFT JOIN UNNEST(array_of_rows) AS t (a, b, c)``: Trino expands the row's fields into
  the aliased columns; DuckDB needs ``UNNEST(x, recursive := true)`` in a lateral subquery for that;
* ``current_date``: pinned to a given day when the engine runs "as of" a date (tests, replays).

Anything else in the queries must already mean the same in both engines.
"""

from __future__ import annotations

import re
from datetime import date

#: DuckDB macros that behave like the Trino functions of the same name (for the arguments we use).
MACROS: tuple[str, ...] = (
    # Trino JSONPath allows $.a["b:c"]; DuckDB spells that member $.a."b:c".
    r"""CREATE OR REPLACE MACRO trino_json_path(p) AS regexp_replace(p, '\[\s*"([^"]*)"\s*\]', '."\1"', 'g')""",
    # json_extract_scalar: the scalar at the path as text; NULL for objects, arrays and missing paths.
    """CREATE OR REPLACE MACRO json_extract_scalar(j, p) AS
        CASE WHEN json_type(CAST(j AS JSON), trino_json_path(p)) IN ('OBJECT', 'ARRAY') THEN NULL
             ELSE json_extract_string(CAST(j AS JSON), trino_json_path(p)) END""",
    # Trino's format letters are MySQL's; translate() rewrites the literal to strftime letters.
    "CREATE OR REPLACE MACRO date_format(t, f) AS strftime(CAST(t AS TIMESTAMP), f)",
    "CREATE OR REPLACE MACRO date_parse(s, f) AS strptime(s, f)",
    # ISO 8601 text (CloudTrail's eventTime) to a timestamp; UTC, since every eventTime ends in Z.
    "CREATE OR REPLACE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMP)",
    "CREATE OR REPLACE MACRO cardinality(x) AS len(x)",
)

_UNNEST = re.compile(
    r"\b(CROSS|LEFT)(\s+JOIN\s+)UNNEST\s*\(\s*([\w.\"]+)\s*\)\s+(?:AS\s+)?(\w+)\s*\(([^)]*)\)",
    re.IGNORECASE,
)
_TIME_FORMAT_CALL = re.compile(
    r"\b(date_format|date_parse)\s*\(((?:[^()']|'[^']*'|\([^()]*\))*?),\s*'([^']*)'\s*\)", re.IGNORECASE
)
#: MySQL (Trino) time format letters -> strftime letters, where they differ.
_MYSQL_TO_STRFTIME = {"%i": "%M", "%s": "%S", "%T": "%H:%M:%S", "%e": "%-d", "%k": "%-H", "%h": "%I", "%W": "%A"}
_CURRENT_DATE = re.compile(r"\bcurrent_date\b", re.IGNORECASE)


def translate(sql: str, *, today: date | None = None) -> str:
    """Return a Trino (Athena) query rewritten for DuckDB.

    Args:
        sql: the Athena query text (already rendered: no placeholders).
        today: the day ``current_date`` stands for; DuckDB's own current date (UTC) when None.

    Returns:
        The DuckDB query text.
    """

    def unnest(match: re.Match[str]) -> str:
        join, spacing, array, alias, names = match.groups()
        return f"{join}{spacing}(SELECT UNNEST({array}, recursive := true)) AS {alias} ({names})"

    def time_format(match: re.Match[str]) -> str:
        function, argument, fmt = match.groups()
        return f"{function}({argument}, '{strftime_format(fmt)}')"

    translated = _UNNEST.sub(unnest, sql)
    translated = _TIME_FORMAT_CALL.sub(time_format, translated)
    if today is not None:
        translated = _CURRENT_DATE.sub(f"DATE '{today.isoformat()}'", translated)
    return translated


def strftime_format(mysql_format: str) -> str:
    """Return a Trino (MySQL-style) time format as a strftime format.

    Args:
        mysql_format: for example ``%Y/%m/%d %H:%i:%s``.

    Returns:
        For example ``%Y/%m/%d %H:%M:%S``.
    """
    return re.sub(r"%.", lambda m: _MYSQL_TO_STRFTIME.get(m.group(0), m.group(0)), mysql_format)
