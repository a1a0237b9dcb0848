"""``kmslab audit``: list, print and run the audit queries over local CloudTrail log files."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import click

from kmslab.audit.damage import Damage
from kmslab.audit.engine import AuditEngine, QueryResult
from kmslab.audit.errors import AuditError
from kmslab.audit.queries import DEFAULT_DAYS, MAX_DAYS, Window, get_query, load_queries, query_file, render
from kmslab.audit.schema import DEFAULT_TABLE

#: Output formats: ``json`` is one JSON array, ``jsonl`` one JSON object per line.
FORMATS = ("table", "csv", "json", "jsonl")
_F = TypeVar("_F", bound=Callable[..., Any])

_TRAIL_DIR = click.option(
    "--trail-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder holding the CloudTrail log files (AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz).",
)


class _Day(click.ParamType[date, Any]):
    """A UTC day written ``YYYY-MM-DD``."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        text = str(value)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
        self.fail(f"{text!r} is not a day written YYYY-MM-DD", param, ctx)


def _window_options(function: _F) -> _F:
    """Add ``--days``, ``--since`` and ``--until`` (UTC days, inclusive) to a command."""
    options = (
        click.option(
            "--days",
            type=click.IntRange(1, MAX_DAYS),
            default=None,
            help=f"Window in days back from today, or from --until  [default: {DEFAULT_DAYS}].",
        ),
        click.option("--since", type=_Day(), help="First day of the window (UTC, inclusive); not with --days."),
        click.option("--until", type=_Day(), help="Last day of the window (UTC, inclusive)."),
    )
    for option in reversed(options):
        function = option(function)
    return function


def _window(days: int | None, since: date | None, until: date | None) -> Window:
    if days is not None and since is not None:
        raise click.UsageError("--days and --since both set the start of the window: give one of them")
    return Window(days=days, since=since, until=until)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def audit() -> None:
    """Query CloudTrail records of KMS calls offline, with the same SQL Athena runs."""


@audit.command("queries")
def list_queries() -> None:
    """List the audit queries and what each answers."""
    queries = load_queries()
    width = max(len(q.name) for q in queries)
    for query in queries:
        click.echo(f"{query.name:<{width}}  {query.description}")


@audit.command("sql")
@click.argument("name")
@click.option("--table", default=DEFAULT_TABLE, show_default=True, help="Table name, optionally database.table.")
@_window_options
def print_sql(name: str, table: str, days: int | None, since: date | None, until: date | None) -> None:
    """Print the Athena SQL of query NAME."""
    window = _window(days, since, until)
    click.echo(render(get_query(name), table=table, window=window).rstrip())


@audit.command("query")
@click.argument("name")
@_TRAIL_DIR
@_window_options
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A DuckDB file ingested with 'kmslab audit ingest' (ingested first if empty); default: read the logs.",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="json: one JSON array; jsonl: one JSON object per line.",
)
def run_query(
    name: str,
    trail_dir: Path,
    days: int | None,
    since: date | None,
    until: date | None,
    db: Path | None,
    output: str,
) -> None:
    """Run audit query NAME over the CloudTrail log files in --trail-dir.

    NAME is one of 'kmslab audit list', or a NAME.sql file written like them (a first line
    '-- NAME: what it answers', the {{table}} and {{days}} placeholders).

    A damaged log file (a record that is not standard JSON, a truncated file) does not stop the
    query: its sound records are read, and what was skipped is listed on stderr.
    """
    query = query_file(Path(name)) if name.endswith(".sql") else get_query(name)
    window = _window(days, since, until)
    with AuditEngine(trail_dir, db=db) as engine:
        result = engine.run(query, window=window)
    click.echo(format_result(result, output), nl=False)
    warn_damaged(result.damaged)


@audit.command("ingest")
@_TRAIL_DIR
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The DuckDB file to fill.")
def ingest(trail_dir: Path, db: Path) -> None:
    """Load the CloudTrail log files (new ones only) into a DuckDB file for fast repeated queries."""
    started = datetime.now()

    def progress(done: int, total: int) -> None:
        click.echo(f"\ringested {done}/{total} files", nl=False, err=True)

    with AuditEngine(trail_dir, db=db) as engine:
        added = engine.ingest(progress=progress)
        damaged = engine.damaged
    seconds = (datetime.now() - started).total_seconds()
    click.echo("", err=True)
    click.echo(f"{added} records added to {db} in {seconds:.1f} s")
    warn_damaged(damaged)


def warn_damaged(damaged: Sequence[Damage]) -> None:
    """Print one warning line per damaged file on stderr, then the totals.

    Args:
        damaged: what the engine skipped.
    """
    if not damaged:
        return
    for damage in damaged:
        click.echo(f"kmslab: warning: {damage.describe()}", err=True)
    records = sum(d.records for d in damaged)
    unreadable = sum(1 for d in damaged if d.whole_file or d.rest_lost)
    click.echo(
        f"kmslab: warning: {len(damaged)} damaged log file(s): {records} record(s) skipped, "
        f"{unreadable} file(s) not readable to the end; the result leaves them out",
        err=True,
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # standard JSON has no NaN or Infinity
    return value


def _json_rows(result: QueryResult) -> list[dict[str, Any]]:
    return [{k: _json_value(v) for k, v in row.items()} for row in result.as_dicts()]


def format_result(result: QueryResult, output: str) -> str:
    """Render a result as an aligned table, CSV, a JSON array or JSON Lines.

    Args:
        result: the query result.
        output: ``table``, ``csv``, ``json`` (one array of row objects) or ``jsonl`` (one row
            object per line).

    Returns:
        The text, ending with a newline.

    Raises:
        AuditError: unknown format.
    """
    if output == "json":
        return json.dumps(_json_rows(result), default=str, allow_nan=False, indent=2) + "\n"
    if output == "jsonl":
        return "".join(json.dumps(row, default=str, allow_nan=False) + "\n" for row in _json_rows(result))
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_text(v) for v in row] for row in result.rows)
        return buffer.getvalue()
    if output != "table":
        raise AuditError(f"unknown output format {output!r}")
    cells = [list(result.columns)] + [[_text(v) for v in row] for row in result.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(result.columns))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"({len(result.rows)} rows)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(audit())
