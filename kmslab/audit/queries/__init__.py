"""The audit queries: Athena (Trino) SQL, one file per question, shared by Athena and the offline engine.

Each ``<name>.sql`` starts with ``-- <name>: <what it answers>`` and uses two placeholders:
``{{table}}`` (the CloudTrail table) and ``{{days}}`` (the window, on the ``timestamp`` partition).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from kmslab.audit.errors import AuditError, UnknownQueryError
from kmslab.audit.schema import DEFAULT_TABLE

DEFAULT_DAYS = 30
_HEADER = re.compile(r"--\s*(?P<name>[a-z0-9_]+)\s*:\s*(?P<description>.+)")
_TABLE_NAME = re.compile(r'^(?:[A-Za-z_][A-Za-z0-9_]*|"[^"]+")(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|"[^"]+")){0,2}$')


@dataclass(frozen=True)
class NamedQuery:
    """One audit query.

    Args:
        name: the file's stem, e.g. ``pending_deletion_key_use``.
        description: what it answers (the header comment).
        sql: the query text with its ``{{table}}`` and ``{{days}}`` placeholders.
    """

    name: str
    description: str
    sql: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_]+", self.name):
            raise AuditError(f"query names are snake_case: {self.name!r}")
        if "{{table}}" not in self.sql or "{{days}}" not in self.sql:
            raise AuditError(f"query {self.name} must use the {{{{table}}}} and {{{{days}}}} placeholders")


def _parse(name: str, text: str) -> NamedQuery:
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    match = _HEADER.fullmatch(first.strip())
    if match is None or match["name"] != name:
        raise AuditError(f"{name}.sql must start with '-- {name}: <what it answers>'")
    return NamedQuery(name=name, description=match["description"].strip(), sql=text)


def load_queries() -> list[NamedQuery]:
    """Return every audit query, sorted by name.

    Returns:
        The queries (a new list each call; the files are read once).

    Raises:
        AuditError: a file lacks its header or placeholders.
    """
    return list(_load())


@cache
def _load() -> tuple[NamedQuery, ...]:
    folder = resources.files(__name__)
    found = [
        _parse(entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return tuple(sorted(found, key=lambda q: q.name))


def get_query(name: str) -> NamedQuery:
    """Return one query by name.

    Args:
        name: the query name.

    Returns:
        The query.

    Raises:
        UnknownQueryError: no query has that name.
    """
    for query in load_queries():
        if query.name == name:
            return query
    known = ", ".join(q.name for q in load_queries())
    raise UnknownQueryError(f"no audit query named {name!r} (known: {known})")


def render(query: NamedQuery, *, table: str = DEFAULT_TABLE, days: int = DEFAULT_DAYS) -> str:
    """Return a query's SQL with its placeholders filled.

    Args:
        query: the query.
        table: the table name, optionally ``database.table`` (identifiers or double-quoted).
        days: the window in days (1-3650) on the ``timestamp`` partition.

    Returns:
        Athena-ready SQL.

    Raises:
        AuditError: the table name or the window is not valid.
    """
    if not _TABLE_NAME.fullmatch(table):
        raise AuditError(f"not a valid table name: {table!r}")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        raise AuditError(f"the window must be 1 to 3650 days, not {days!r}")
    return query.sql.replace("{{table}}", table).replace("{{days}}", str(days))


__all__ = ["DEFAULT_DAYS", "NamedQuery", "get_query", "load_queries", "render"]
