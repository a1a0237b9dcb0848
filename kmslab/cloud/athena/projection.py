"""Partition projection: which S3 prefixes a query over a projected table reads.

Athena (User Guide, "Partition projection with Amazon Athena") computes partitions from the
table's ``projection.*`` parameters instead of the catalog, substitutes them in
``storage.location.template``, and reads only the partitions the query's predicates select.

Supported here: ``date`` projections (``format``, ``range`` with ``NOW``, ``interval`` and
``interval.unit`` DAYS/HOURS) and ``enum`` projections; predicates ``col = | < | <= | > | >= x``,
``col BETWEEN a AND b`` and ``col IN (...)`` whose value is a string literal or
``date_format(current_date [- interval 'N' day], '<format>')`` (the kit's form). A predicate is
used only when it is ANDed at the top level of the WHERE clause; a top-level ``OR`` disables
pruning (every projected partition is read), which is never wrong, only slower.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kmslab.audit.dialect import strftime_format
from kmslab.cloud.athena.errors import QueryFailed

_JAVA_TO_STRFTIME = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"))
_VALUE = r"('(?:[^']|'')*'|date_format\s*\(\s*current_date(?:\s*-\s*interval\s*'\d+'\s*day)?\s*,\s*'[^']*'\s*\))"
_COMPARE: dict[str, Callable[[str, str], bool]] = {
    "=": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
_CLAUSE_END = re.compile(r"\b(GROUP\s+BY|ORDER\s+BY|LIMIT|HAVING|UNION|WINDOW)\b", re.IGNORECASE)


def _java_format(fmt: str) -> str:
    for java, strf in _JAVA_TO_STRFTIME:
        fmt = fmt.replace(java, strf)
    return fmt


@dataclass(frozen=True)
class Projection:
    """One projected partition column.

    Args:
        column: the partition column.
        kind: ``date`` or ``enum``.
        values: the enum values, or the dates as formatted partition values (ascending).
    """

    column: str
    kind: str
    values: tuple[str, ...]


def _date_values(params: Mapping[str, str], column: str, today: date) -> tuple[str, ...]:
    prefix = f"projection.{column}."
    fmt = _java_format(params.get(prefix + "format", "yyyy/MM/dd"))
    try:
        low, high = (part.strip() for part in params[prefix + "range"].split(","))
        interval = int(params.get(prefix + "interval", "1"))
    except (KeyError, ValueError) as exc:
        raise QueryFailed(f"HIVE_METASTORE_ERROR: projection.{column}.range is missing or malformed") from exc
    unit = params.get(prefix + "interval.unit", "DAYS").upper()
    step = timedelta(hours=interval) if unit == "HOURS" else timedelta(days=interval)
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC)

    def bound(text: str) -> datetime:
        if text.upper() == "NOW":
            return now
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError as exc:
            raise QueryFailed(f"HIVE_METASTORE_ERROR: projection.{column}.range bound {text!r} does not match") from exc

    values, moment, end = [], bound(low), bound(high)
    while moment <= end:
        values.append(moment.strftime(fmt))
        moment += step
    return tuple(values)


def projections(parameters: Mapping[str, str], today: date) -> list[Projection]:
    """Read a table's projected partition columns from its parameters.

    Args:
        parameters: the Glue table's ``Parameters``.
        today: the day ``NOW`` stands for.

    Returns:
        The projected columns, in the order their names appear in the location template.

    Raises:
        QueryFailed: a projection is malformed or of a type we do not project.
    """
    if str(parameters.get("projection.enabled", "false")).lower() != "true":
        return []
    columns = re.findall(r"\$\{(\w+)\}", parameters.get("storage.location.template", ""))
    found = []
    for column in columns:
        kind = parameters.get(f"projection.{column}.type")
        if kind == "date":
            found.append(Projection(column, "date", _date_values(parameters, column, today)))
        elif kind == "enum":
            values = tuple(v.strip() for v in parameters.get(f"projection.{column}.values", "").split(",") if v.strip())
            found.append(Projection(column, "enum", values))
        else:
            raise QueryFailed(f"HIVE_METASTORE_ERROR: projection type {kind!r} of {column} is not supported locally")
    return found


def _where(sql: str) -> tuple[str, list[int]] | None:
    """Return the WHERE clause's text and each character's parenthesis depth, or None without WHERE."""
    match = re.search(r"\bWHERE\b", sql, re.IGNORECASE)
    if not match:
        return None
    text, depths, depth = sql[match.end() :], [], 0
    for char in text:
        if char == "(":
            depth += 1
        depths.append(depth)
        if char == ")":
            depth -= 1
    top = "".join(c if d == 0 else " " for c, d in zip(text, depths, strict=True))
    end = _CLAUSE_END.search(top)
    if end:
        text, depths = text[: end.start()], depths[: end.start()]
    return text, depths


def _value(text: str, today: date) -> str:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    days = re.search(r"interval\s*'(\d+)'", text, re.IGNORECASE)
    fmt = re.search(r",\s*'([^']*)'\s*\)$", text)
    moment = today - timedelta(days=int(days.group(1)) if days else 0)
    return moment.strftime(strftime_format(fmt.group(1) if fmt else "%Y-%m-%d"))


def selected(sql: str, projection: Projection, today: date) -> tuple[str, ...]:
    """Return the partition values of one projected column that the query's predicates select.

    Args:
        sql: the query (Athena SQL).
        projection: the projected column.
        today: the day ``current_date`` stands for.

    Returns:
        The selected values (all of them when the query does not constrain the column safely).
    """
    where = _where(sql)
    if where is None:
        return projection.values
    text, depths = where
    top = "".join(c if d == 0 else " " for c, d in zip(text, depths, strict=True))
    if re.search(r"\bOR\b", top, re.IGNORECASE):
        return projection.values
    col = rf'(?:"{projection.column}"|\b{projection.column}\b)'
    values = list(projection.values)

    def at_top(match: re.Match[str]) -> bool:
        return depths[match.start()] == 0

    for found in re.finditer(rf"{col}\s*(>=|<=|=|>|<)\s*{_VALUE}", text, re.IGNORECASE):
        if at_top(found):
            bound, op = _value(found.group(2), today), found.group(1)
            values = [v for v in values if _COMPARE[op](v, bound)]
    for found in re.finditer(rf"{col}\s+BETWEEN\s+{_VALUE}\s+AND\s+{_VALUE}", text, re.IGNORECASE):
        if at_top(found):
            low, high = _value(found.group(1), today), _value(found.group(2), today)
            values = [v for v in values if low <= v <= high]
    for found in re.finditer(rf"{col}\s+IN\s*\(([^)]*)\)", text, re.IGNORECASE):
        if at_top(found):
            items = [i.strip() for i in found.group(1).split(",")]
            if all(i.startswith("'") for i in items):
                wanted = {_value(i, today) for i in items}
                values = [v for v in values if v in wanted]
    return tuple(values)


def locations(parameters: Mapping[str, str], sql: str, today: date, default: str) -> list[str]:
    """Return the S3 locations (``s3://bucket/prefix/``) a query reads from a table.

    Args:
        parameters: the table's ``Parameters``.
        sql: the query.
        today: the day ``current_date``/``NOW`` stand for.
        default: the table's ``StorageDescriptor.Location`` (used without projection).

    Returns:
        The locations, each ending in ``/``.
    """
    found = projections(parameters, today)
    if not found:
        return [default.rstrip("/") + "/"]
    template = parameters["storage.location.template"]
    choices = [selected(sql, p, today) for p in found]
    result = []
    for combo in itertools.product(*choices):
        location = template
        for projection, value in zip(found, combo, strict=True):
            location = location.replace("${" + projection.column + "}", value)
        result.append(location.rstrip("/") + "/")
    return result


def split_location(location: str) -> tuple[str, str]:
    """Split ``s3://bucket/prefix/`` into ``(bucket, prefix)``.

    Raises:
        QueryFailed: not an S3 location.
    """
    match = re.fullmatch(r"s3a?://([^/]+)/?(.*)", location)
    if not match:
        raise QueryFailed(f"HIVE_METASTORE_ERROR: the table location {location!r} is not an S3 location")
    return match.group(1), match.group(2)


def parameters_of(table: Mapping[str, Any]) -> dict[str, str]:
    """Return a TableInput's parameters as strings."""
    return {str(k): str(v) for k, v in (table.get("Parameters") or {}).items()}
