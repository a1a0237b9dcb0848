"""The audit queries: Athena (Trino) SQL, one file per question, shared by Athena and the offline engine.

Each ``<name>.sql`` starts with ``-- <name>: <what it answers>`` and uses two placeholders:
``{{table}}`` (the CloudTrail table) and ``{{days}}`` (the window, on the ``timestamp`` partition).

The window is written once in every query, as the predicate ``"timestamp" >= date_format(current_date
- interval '{{days}}' day, '%Y/%m/%d')``. A :class:`Window` with fixed days (``since``/``until``)
replaces that one predicate with a range of ``yyyy/MM/dd`` partition values, which Athena's
partition projection prunes on just as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from pathlib import Path

from kmslab.audit.errors import AuditError, UnknownQueryError
from kmslab.audit.schema import DEFAULT_TABLE

DEFAULT_DAYS = 30
MAX_DAYS = 3650
#: The window predicate every query carries, placeholder and all.
_WINDOW_PREDICATE = re.compile(
    r"""\"timestamp\"\s*>=\s*date_format\(\s*current_date\s*-\s*interval\s*'\{\{days\}\}'\s*day\s*,\s*'%Y/%m/%d'\s*\)""",
    re.IGNORECASE,
)
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


@dataclass(frozen=True)
class Window:
    """The days a query reads, on the ``timestamp`` partition (UTC days, both ends inclusive).

    Either the last ``days`` days up to today (the default, what the query text says), or fixed
    days: from ``since``, up to ``until``, or ``days`` days up to ``until``.

    Args:
        days: the number of days back (1-3650); None for the default, 30, unless ``since`` is set.
        since: the first day read.
        until: the last day read.

    Raises:
        AuditError: ``days`` out of range, ``days`` together with ``since``, or ``since`` after ``until``.
    """

    days: int | None = None
    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        if self.days is not None and (
            isinstance(self.days, bool) or not isinstance(self.days, int) or not 1 <= self.days <= MAX_DAYS
        ):
            raise AuditError(f"the window must be 1 to {MAX_DAYS} days, not {self.days!r}")
        if self.days is not None and self.since is not None:
            raise AuditError("give the start of the window once: --days or --since, not both")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise AuditError(f"the window starts after it ends: since {self.since} is after until {self.until}")

    @property
    def fixed(self) -> bool:
        """True when the window names its days (``since`` or ``until``) rather than counting back from today."""
        return self.since is not None or self.until is not None

    def first_day(self, today: date) -> date:
        """Return the first day the window reads.

        Args:
            today: the day ``current_date`` stands for.

        Returns:
            The first day.

        Raises:
            AuditError: the window would start before year 1.
        """
        if self.since is not None:
            return self.since
        try:
            return (self.until or today) - timedelta(days=self.days or DEFAULT_DAYS)
        except OverflowError:
            raise AuditError("the window starts before year 1") from None

    def predicate(self) -> str:
        """Return the Athena predicate of a fixed window on the ``timestamp`` partition.

        Returns:
            ``"timestamp" >= 'yyyy/MM/dd'`` or ``"timestamp" BETWEEN 'yyyy/MM/dd' AND 'yyyy/MM/dd'``.

        Raises:
            AuditError: the window is not fixed.
        """
        if self.until is None:
            if self.since is None:
                raise AuditError("a window counted back from today has no fixed days")
            return f'"timestamp" >= {partition_value(self.since)}'
        first = self.first_day(self.until)
        return f'"timestamp" BETWEEN {partition_value(first)} AND {partition_value(self.until)}'


def partition_value(day: date) -> str:
    """Return a day as a quoted ``timestamp`` partition value, e.g. ``'2026/01/31'``.

    Args:
        day: the day.

    Returns:
        The SQL string literal.
    """
    return f"'{day_folder(day)}'"


def day_folder(day: date) -> str:
    """Return a day as CloudTrail names its folder (and Athena its partition), e.g. ``2026/01/31``.

    Args:
        day: the day.

    Returns:
        ``yyyy/MM/dd``.
    """
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}"


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


def query_file(path: Path) -> NamedQuery:
    """Return a query written in a file of one's own, like the kit's (header line and placeholders).

    Args:
        path: ``<name>.sql``, starting with ``-- <name>: <what it answers>`` and using ``{{table}}``
            and ``{{days}}``.

    Returns:
        The query.

    Raises:
        AuditError: the file cannot be read, or lacks its header or placeholders.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditError(f"cannot read {path}: {exc}") from exc
    return _parse(path.name.removesuffix(".sql"), text)


def render(
    query: NamedQuery, *, table: str = DEFAULT_TABLE, days: int = DEFAULT_DAYS, window: Window | None = None
) -> str:
    """Return a query's SQL with its placeholders filled.

    Args:
        query: the query.
        table: the table name, optionally ``database.table`` (identifiers or double-quoted).
        days: the window in days (1-3650) on the ``timestamp`` partition.
        window: the window instead of ``days``; a fixed one (``since``/``until``) replaces the
            query's window predicate with a range of partition values.

    Returns:
        Athena-ready SQL.

    Raises:
        AuditError: the table name or the window is not valid, or the query has no window predicate
            to fix.
    """
    if not _TABLE_NAME.fullmatch(table):
        raise AuditError(f"not a valid table name: {table!r}")
    if window is None:
        window = Window(days=days)
    sql = query.sql.replace("{{table}}", table)
    if window.fixed:
        sql, found = _WINDOW_PREDICATE.subn(window.predicate(), sql)
        if not found:
            raise AuditError(f'query {query.name} has no window predicate on "timestamp" to fix to days')
    return sql.replace("{{days}}", str(window.days or DEFAULT_DAYS))


__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "NamedQuery", "Window", "get_query", "load_queries", "render"]
