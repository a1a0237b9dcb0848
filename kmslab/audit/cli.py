"""``kmslab audit``: list, print and run the audit queries over local CloudTrail log files."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from kmslab.audit.engine import AuditEngine, QueryResult
from kmslab.audit.errors import AuditError
from kmslab.audit.queries import DEFAULT_DAYS, get_query, load_queries, render
from kmslab.audit.schema import DEFAULT_TABLE

_TRAIL_DIR = click.option(
    "--trail-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder holding the CloudTrail log files (AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz).",
)


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
@click.option("--days", type=click.IntRange(1, 3650), default=DEFAULT_DAYS, show_default=True, help="Window in days.")
def print_sql(name: str, table: str, days: int) -> None:
    """Print the Athena SQL of query NAME."""
    click.echo(render(get_query(name), table=table, days=days).rstrip())


@audit.command("query")
@click.argument("name")
@_TRAIL_DIR
@click.option("--days", type=click.IntRange(1, 3650), default=DEFAULT_DAYS, show_default=True, help="Window in days.")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A DuckDB file ingested with 'kmslab audit ingest' (ingested first if empty); default: read the logs.",
)
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def run_query(name: str, trail_dir: Path, days: int, db: Path | None, output: str) -> None:
    """Run audit query NAME over the CloudTrail log files in --trail-dir."""
    query = get_query(name)
    with AuditEngine(trail_dir, db=db) as engine:
        result = engine.run(query, days=days)
    click.echo(format_result(result, output), nl=False)


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
    seconds = (datetime.now() - started).total_seconds()
    click.echo("", err=True)
    click.echo(f"{added} records added to {db} in {seconds:.1f} s")


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
        return float(value)
    return value


def format_result(result: QueryResult, output: str) -> str:
    """Render a result as an aligned table, CSV or JSON lines.

    Args:
        result: the query result.
        output: ``table``, ``csv`` or ``json``.

    Returns:
        The text, ending with a newline.

    Raises:
        AuditError: unknown format.
    """
    if output == "json":
        return "".join(
            json.dumps({k: _json_value(v) for k, v in row.items()}, default=str) + "\n" for row in result.as_dicts()
        )
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
