"""``kmslab local clock`` and ``kmslab local advance-time``: read and move the local cloud's clock.

The cloud's clock is the KMS engine's: real time plus a forward offset saved in
``<data-dir>/kms/clock-offset.json``. ``clock`` asks the running cloud (or reads the offset when it
does not run); ``advance-time`` asks the running cloud to move it, with the data directory's control
token, and whatever falls due happens at once (pending deletions complete, keys rotate, imported
material expires, with their CloudTrail records and EventBridge events).
"""

from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from kmslab.cloud._cli_common import CONTEXT, LocalError, data_dir_option, port_option
from kmslab.cloud.config import CloudConfig

__all__ = ["iso", "parse_duration", "register"]

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([dhms])")


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``30d``, ``12h``, ``90m``, ``45s`` or ``1d12h``.

    Args:
        text: the duration.

    Returns:
        The duration.

    Raises:
        ValueError: it is not one or more ``<integer><d|h|m|s>`` parts.
    """
    cleaned = text.strip().lower()
    if not cleaned or _PART.sub("", cleaned):
        raise ValueError(f"{text!r} is not a duration such as 30d, 12h, 90m or 1d12h")
    return timedelta(seconds=sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned)))


def iso(moment: datetime) -> str:
    """Format a time as ISO 8601 UTC to the second, e.g. ``2026-12-02T20:15:00Z``.

    Args:
        moment: a timezone-aware time.

    Returns:
        The text.
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _call(config: CloudConfig, method: str, payload: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Call the running cloud's clock route; None when no cloud runs on the data directory."""
    from kmslab.cloud import daemon
    from kmslab.kms.control import TOKEN_HEADER, read_token

    state = daemon.read_state(config)
    if state is None:
        return None
    token = read_token(config.data_dir)
    if token is None:
        raise LocalError(
            f"no control token in {config.data_dir}: restart the local cloud ('kmslab local down && up -d')"
        )
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(  # noqa: S310 - our own endpoint, from the state file
        f"{state['url']}/_kmslab/clock",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", TOKEN_HEADER: token},
    )
    context = ssl.create_default_context(cafile=state["ca"]) if state.get("tls") else None
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as answer:  # noqa: S310
            loaded: dict[str, Any] = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise LocalError(f"{state['url']} refused: {_error_text(exc.read())}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise LocalError(f"{state['url']} does not answer: {getattr(exc, 'reason', exc)}") from None
    return loaded


def _error_text(body: bytes) -> str:
    try:
        parsed = json.loads(body)
        return f"{parsed.get('__type', 'Error')}: {parsed.get('message', '')}"
    except (ValueError, AttributeError):
        return " ".join(body.decode("utf-8", "replace").split())[:200] or "no details"


def _now(answer: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(answer["now"]))
    except (KeyError, ValueError):
        raise LocalError("the local cloud's clock answer has no valid 'now'") from None


@click.command(context_settings=CONTEXT)
@click.option("--plus", metavar="DURATION", help="Print the time this far ahead instead: 30d, 12h, 90m, 45s, 1d12h.")
@port_option
@data_dir_option
def clock(plus: str | None, port: int, data_dir: str) -> None:
    """Print the local cloud's current time (ISO 8601 UTC), or that time plus a duration.

    The local cloud's clock is real time plus however far 'kmslab local advance-time' moved it.

    \b
    Examples:
      kmslab local clock
      kmslab local clock --plus 30d
    """
    try:
        delta = parse_duration(plus) if plus is not None else timedelta(0)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--plus") from None
    config = CloudConfig(data_dir=Path(data_dir), port=port)
    answer = _call(config, "GET")
    if answer is not None:
        now = _now(answer)
    else:  # not running: the saved offset is the whole state of the clock
        from kmslab.kms._clockfile import SavedOffsetClock

        try:
            now = SavedOffsetClock(config.kms_dir).now()
        except ValueError as exc:
            raise LocalError(str(exc)) from None
    click.echo(iso(now + delta))


@click.command(context_settings=CONTEXT)
@click.option("--days", type=click.FloatRange(min=0), help="Days to move forward.")
@click.option("--hours", type=click.FloatRange(min=0), help="Hours to move forward.")
@click.option("--seconds", type=click.FloatRange(min=0), help="Seconds to move forward.")
@port_option
@data_dir_option
def advance_time(days: float | None, hours: float | None, seconds: float | None, port: int, data_dir: str) -> None:
    """Move the running local cloud's clock forward; whatever falls due happens at once.

    Pending key deletions complete, keys due for rotation rotate, imported key material expires, and each
    of these writes its CloudTrail record and EventBridge event. Give exactly one of --days, --hours,
    --seconds. The clock never moves back. The request carries the data directory's control token.

    \b
    Examples:
      kmslab local advance-time --days 8
      kmslab local advance-time --hours 1
    """
    given = [
        (name, value) for name, value in (("days", days), ("hours", hours), ("seconds", seconds)) if value is not None
    ]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --days, --hours, --seconds")
    name, value = given[0]
    total = value * {"days": 86400, "hours": 3600, "seconds": 1}[name]
    config = CloudConfig(data_dir=Path(data_dir), port=port)
    answer = _call(config, "POST", {"advanceSeconds": total})
    if answer is None:
        raise LocalError(f"no local cloud runs on {data_dir}: start it with 'kmslab local up -d'")
    unit = name[:-1] if value == 1 else name
    click.echo(f"kmslab local: clock moved {value:g} {unit} forward, now {iso(_now(answer))}")


def register(group: click.Group) -> None:
    """Add ``clock`` and ``advance-time`` to the ``kmslab local`` group.

    Args:
        group: the group.
    """
    group.add_command(clock, "clock")
    group.add_command(advance_time, "advance-time")
