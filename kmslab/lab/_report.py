"""The lab's report: ``lab-report/index.html``, one self-contained file (inline CSS and SVG, nothing fetched).

It holds a timeline of the KMS calls per key (from the trail's records: time across, one row per
key, one dot per call coloured by outcome), the alert e-mails of the local mailbox, the result
tables of the named queries chapter 10 ran, and the steps' outcomes.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from kmslab.lab._steps import LabContext, LabReport

#: outcome -> (label, colour)
OUTCOMES = {
    "success": ("success", "#2e7d32"),
    "AccessDenied": ("AccessDenied", "#c62828"),
    "KMSInvalidStateException": ("KMSInvalidStateException", "#ef6c00"),
    "other": ("other errors", "#6a1b9a"),
}
#: a quiet gap longer than this (the lab moved the cloud's clock) is drawn this wide, with a break mark
GAP_SECONDS = 5.0
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1b1b1b;max-width:1200px}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.2rem .4rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}pre{background:#f7f7f7;padding:1rem;white-space:pre-wrap;
font-size:.85rem}.ok{color:#2e7d32}.bad{color:#c62828}.legend span{margin-right:1.2rem}.dot{display:inline-block;
width:.7rem;height:.7rem;border-radius:50%;margin-right:.3rem}svg{max-width:100%;height:auto}
svg text{font-size:11px;font-family:monospace}
"""


def outcome(record: dict[str, Any]) -> str:
    """Classify one CloudTrail record's outcome.

    Args:
        record: the record.

    Returns:
        ``success``, ``AccessDenied``, ``KMSInvalidStateException`` or ``other``.
    """
    code = str(record.get("errorCode") or "")
    if not code:
        return "success"
    if code.startswith("AccessDenied"):
        return "AccessDenied"
    if code == "KMSInvalidStateException":
        return "KMSInvalidStateException"
    return "other"


def aliases_from(records: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Alias names by key ID, from the trail's CreateAlias records (aliases deleted since are still known).

    Args:
        records: CloudTrail records.

    Returns:
        Key ID -> its first alias.
    """
    names: dict[str, str] = {}
    for record in records:
        params = record.get("requestParameters") or {}
        if record.get("eventName") == "CreateAlias" and not record.get("errorCode") and params.get("targetKeyId"):
            names.setdefault(str(params["targetKeyId"]).rsplit("/", 1)[-1], str(params.get("aliasName", "")))
    return names


def _key_of(record: dict[str, Any], by_alias: dict[str, str]) -> str | None:
    """The key ID a record is about: from its resources, else its request's KeyId (an alias is resolved)."""
    for resource in record.get("resources") or []:
        arn = str(resource.get("ARN", ""))
        if ":key/" in arn:
            return arn.rsplit("/", 1)[-1]
    key = str((record.get("requestParameters") or {}).get("keyId") or "")
    if not key:
        return None
    name = key.split(":", 5)[-1] if key.startswith("arn:") else key
    if name.startswith("alias/"):
        return by_alias.get(name, name)
    return name.rsplit("/", 1)[-1]


def _when(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record["eventTime"]).replace("Z", "+00:00"))


def timeline_svg(records: Sequence[dict[str, Any]], names: dict[str, str]) -> str:
    """Draw the KMS calls per key as an SVG: time across, one row per key, dots coloured by outcome.

    Args:
        records: CloudTrail records (KMS ones are drawn).
        names: key ID -> a label (alias) for the rows.

    Returns:
        The ``<svg>`` element.
    """
    by_alias = {alias: key for key, alias in names.items()}
    calls = [(r, _key_of(r, by_alias)) for r in records if r.get("eventSource") == "kms.amazonaws.com"]
    calls = [(r, k) for r, k in calls if k]
    if not calls:
        return '<svg width="400" height="30"><text x="5" y="20">no KMS calls</text></svg>'
    keys = sorted({k for _, k in calls if k}, key=lambda k: (names.get(k, "~"), k))
    times = [_when(r) for r, _ in calls]
    start, end = min(times), max(times)
    position, breaks = _compressed_axis(times)
    span = max(max(position.values()), 1.0)
    left, width, row = 260, 860, 22
    height = 40 + row * len(keys)
    parts = [f'<svg width="{left + width + 20}" height="{height}" role="img" aria-label="KMS calls per key over time">']
    for index, key in enumerate(keys):
        y = 20 + index * row
        label = names.get(key, key)
        parts.append(f'<text x="4" y="{y + 4}">{html.escape(label[:38])}</text>')
        parts.append(f'<line x1="{left}" x2="{left + width}" y1="{y}" y2="{y}" stroke="#e0e0e0"/>')
    for (record, found), moment in zip(calls, times, strict=True):
        y = 20 + keys.index(str(found)) * row
        x = left + position[moment] / span * width
        kind = outcome(record)
        tip = f"{record.get('eventName')} {moment.isoformat()} {record.get('errorCode') or 'OK'}"
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y}" r="4" fill="{OUTCOMES[kind][1]}" data-outcome="{kind}">'
            f"<title>{html.escape(tip)}</title></circle>"
        )
    for moment, jumped in breaks:
        x = left + position[moment] / span * width - GAP_SECONDS / span * width / 2
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="10" y2="{height - 22}" stroke="#999" stroke-dasharray="3,3"/>'
        )
        parts.append(f'<text x="{x + 3:.1f}" y="{height - 22}" fill="#666">+{html.escape(jumped)}</text>')
    axis = height - 8
    parts.append(f'<text x="{left}" y="{axis}">{html.escape(start.isoformat(timespec="seconds"))}</text>')
    parts.append(
        f'<text x="{left + width}" y="{axis}" text-anchor="end">{html.escape(end.isoformat(timespec="seconds"))}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _compressed_axis(times: Sequence[datetime]) -> tuple[dict[datetime, float], list[tuple[datetime, str]]]:
    """Place times on an axis where a quiet gap (a clock jump of the lab) takes a fixed width.

    Args:
        times: the calls' times.

    Returns:
        Each time's position in axis seconds, and the breaks: the time after each cut gap and its length.
    """
    ordered = sorted(set(times))
    position = {ordered[0]: 0.0}
    breaks: list[tuple[datetime, str]] = []
    for before, after in zip(ordered, ordered[1:], strict=False):
        gap = (after - before).total_seconds()
        if gap > GAP_SECONDS:
            breaks.append((after, _duration(gap)))
        position[after] = position[before] + min(gap, GAP_SECONDS)
    return position, breaks


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.0f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def _table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def build_html(ctx: LabContext, report: LabReport) -> str:
    """Build the report page.

    Args:
        ctx: the lab context (trail records, mailbox, query tables).
        report: the steps' outcomes.

    Returns:
        The HTML document.
    """
    from kmslab.cloud.alerts.mail import Mailbox

    records = ctx.recorder.records() if ctx.recorder is not None else []
    svg = timeline_svg(records, aliases_from(records))
    legend = "".join(
        f'<span><i class="dot" style="background:{colour}"></i>{html.escape(label)}</span>'
        for label, colour in OUTCOMES.values()
    )
    mails = Mailbox(ctx.lab.data_dir / "mail").list()
    mail_html = "".join(f"<h3>{html.escape(m.subject)}</h3><pre>{html.escape(m.as_text())}</pre>" for m in mails)
    queries = ctx.artefacts.get("queries", {})
    query_html = "".join(
        f"<h3>{html.escape(name)}</h3><p>{html.escape(q['description'])}</p>{_table(q['columns'], q['rows'])}"
        for name, q in queries.items()
    )
    steps = _table(
        ("step", "title", "outcome", "seconds"),
        [
            (r.label, r.step.title, "passed" if r.passed else f"FAILED: {r.failure}", f"{r.seconds:.2f}")
            for r in report.results
        ]
        + [(label.split(" ", 1)[0], label.split(" ", 1)[-1], "not run", "") for label in report.not_run],
    )
    passed = sum(1 for r in report.results if r.passed)
    verdict = "ok" if report.passed else "bad"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>kmslab lab report</title>'
        f"<style>{_CSS}</style></head><body>"
        f'<h1>kmslab lab report</h1><p class="{verdict}">{passed} of {len(report.results) + len(report.not_run)} '
        f"steps passed; {len(records)} CloudTrail records.</p>"
        f'<h2 id="timeline">KMS calls per key</h2><p class="legend">{legend}</p>{svg}'
        f'<h2 id="mail">Alert e-mail ({len(mails)})</h2>{mail_html or "<p>No e-mail was delivered.</p>"}'
        f'<h2 id="queries">Named queries (chapter 10)</h2>{query_html or "<p>Chapter 10 did not run.</p>"}'
        f'<h2 id="steps">Steps</h2>{steps}</body></html>\n'
    )


def write_report(ctx: LabContext, report: LabReport, folder: Path) -> Path:
    """Write ``<folder>/index.html``.

    Args:
        ctx: the lab context.
        report: the steps' outcomes.
        folder: the report folder (created).

    Returns:
        The file's path.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    path.write_text(build_html(ctx, report), encoding="utf-8")
    return path.resolve()
