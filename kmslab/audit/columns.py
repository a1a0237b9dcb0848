"""Which of the table's columns a query reads: the engine parses only those from the log files.

A ``*`` in a query's select list (``SELECT *``, ``SELECT t.*``, ``SELECT *, x``) stands for every
column of the table, as in Athena, where it expands to the table's columns then its partition
columns; ``count(*)`` names none. Comments and string literals are not looked into.
"""

from __future__ import annotations

import re

from kmslab.audit import schema

#: a ``*`` that is an item of a select list: after SELECT [DISTINCT|ALL] or a comma, maybe ``alias.``
_STAR = re.compile(r"(?:\bSELECT\s+(?:(?:DISTINCT|ALL)\s+)?|,\s*)(?:[\w\"]+\s*\.\s*)?\*", re.IGNORECASE)
_COMMENT_OR_STRING = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'", re.DOTALL)


def structure(sql: str) -> str:
    """Return a query with its comments and string literals blanked (same length): its structure only.

    Args:
        sql: the query.

    Returns:
        The text to search for column names and ``*``.
    """
    return _COMMENT_OR_STRING.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), sql)


def selects_all(sql: str) -> bool:
    """Tell whether a query's select list holds ``*`` (every column).

    Args:
        sql: the query.

    Returns:
        True for ``SELECT *``, ``SELECT t.*`` or ``SELECT a, *``; False for ``count(*)`` or ``a * b``.
    """
    return _STAR.search(structure(sql)) is not None


def needed_columns(sql: str) -> tuple[schema.Field, ...]:
    """Return the table columns a query names, pruned to the struct fields it names.

    A struct column named only as ``col.field`` is read with just those fields; named bare, it is
    read whole. Columns the query never names need not be parsed at all.

    Args:
        sql: the query.

    Returns:
        The columns to read, in table order; at least one (all of them for ``SELECT *``).
    """
    if selects_all(sql):
        return schema.COLUMNS
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
