"""The local cloud's clock: ``kmslab local clock`` / ``advance-time`` and the ``/_kmslab/clock`` route."""

from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kmslab.cloud._clock_cli import iso, parse_duration
from kmslab.cloud.cli import local
from kmslab.kms.control import TOKEN_HEADER, read_token
from tests.cloud._running import publish_state
from tests.cloud.conftest import Running

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _run(cloud: Running, *args: str) -> Any:
    return CliRunner().invoke(local, [*args, "--data-dir", str(cloud.data_dir), "--port", "0"])


def _parse(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _post(cloud: Running, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{cloud.url}/_kmslab/clock", data=body, method="POST", headers=headers)
    context = ssl.create_default_context(cafile=str(cloud.ca))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_durations() -> None:
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("1d12h") == timedelta(hours=36)
    for bad in ("", "30", "d", "3x", "-1d", "1.5d"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)
    assert iso(datetime(2026, 1, 2, 3, 4, 5, 999, tzinfo=UTC)) == "2026-01-02T03:04:05Z"


def test_clock_prints_iso_utc_and_plus(cloud: Running) -> None:
    publish_state(cloud)
    now = _run(cloud, "clock")
    assert now.exit_code == 0, now.output
    assert ISO.match(now.output.strip())
    engine_now = cloud.cloud.kms.clock.now()
    assert abs((_parse(now.output) - engine_now).total_seconds()) < 5
    later = _run(cloud, "clock", "--plus", "30d")
    assert abs((_parse(later.output) - engine_now - timedelta(days=30)).total_seconds()) < 5
    bad = _run(cloud, "clock", "--plus", "soon")
    assert bad.exit_code == 2
    assert "not a duration" in bad.output


def test_advance_time_completes_a_pending_deletion_at_once(cloud: Running) -> None:
    publish_state(cloud)
    kms = cloud.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    events: list[Any] = []
    cloud.cloud.kms.add_service_sink(events.append)
    try:
        before = _parse(_run(cloud, "clock").output)
        moved = _run(cloud, "advance-time", "--days", "8")
        assert moved.exit_code == 0, moved.output
        assert moved.output.startswith("kmslab local: clock moved 8 days forward, now ")
        shown = _parse(moved.output.rsplit(" ", 1)[-1])
        assert timedelta(days=8) <= shown - before < timedelta(days=8, seconds=30)
        # the deletion happened during the advance itself (its service event is out before any other call)
        assert [(e.event_name, e.key_id) for e in events] == [("DeleteKey", key_id)]
    finally:
        cloud.cloud.kms.remove_service_sink(events.append)
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=key_id)
    after = _parse(_run(cloud, "clock").output)
    assert after >= shown
    one = _run(cloud, "advance-time", "--hours", "1")
    assert "clock moved 1 hour forward" in one.output


def test_advance_time_needs_exactly_one_amount(cloud: Running) -> None:
    publish_state(cloud)
    for args in ((), ("--days", "1", "--hours", "1")):
        result = _run(cloud, "advance-time", *args)
        assert result.exit_code == 2
        assert "exactly one of --days, --hours, --seconds" in result.output
    assert _run(cloud, "advance-time", "--days", "-1").exit_code == 2


def test_the_clock_route_needs_the_control_token(cloud: Running) -> None:
    token = read_token(cloud.data_dir)
    assert token is not None
    before = cloud.cloud.kms.clock.now()
    body = json.dumps({"advanceSeconds": 3600}).encode()
    status, answer = _post(cloud, body, {"Content-Type": "application/json"})
    assert (status, answer["__type"]) == (403, "AccessDeniedException")
    status, answer = _post(cloud, body, {"Content-Type": "application/json", TOKEN_HEADER: "0" * 64})
    assert status == 403
    browser = {"Content-Type": "application/json", TOKEN_HEADER: token, "Origin": "https://evil.example"}
    assert _post(cloud, body, browser)[0] == 403
    form = {"Content-Type": "text/plain", TOKEN_HEADER: token}
    assert _post(cloud, body, form)[0] == 403
    assert cloud.cloud.kms.clock.now() - before < timedelta(minutes=5)  # none of these moved it
    for bad in (b"{", b"[]", b'{"advanceSeconds": -1}', b'{"advanceSeconds": "1"}', b'{"other": 1}'):
        status, answer = _post(cloud, bad, {"Content-Type": "application/json", TOKEN_HEADER: token})
        assert status == 400, bad
        assert answer["__type"] in ("ValidationException", "SerializationException")
    status, answer = _post(cloud, body, {"Content-Type": "application/json", TOKEN_HEADER: token})
    assert status == 200
    assert datetime.fromisoformat(answer["now"]) - before >= timedelta(hours=1)


def test_clock_reads_the_saved_offset_when_the_cloud_is_down(tmp_path: Path) -> None:
    from kmslab.kms._clockfile import SavedOffsetClock

    kms_dir = tmp_path / "kms"
    SavedOffsetClock(kms_dir).advance(timedelta(days=100))
    result = CliRunner().invoke(local, ["clock", "--data-dir", str(tmp_path), "--port", "4566"])
    assert result.exit_code == 0, result.output
    shown = _parse(result.output)
    assert abs((shown - datetime.now(UTC) - timedelta(days=100)).total_seconds()) < 5
    down = CliRunner().invoke(local, ["advance-time", "--days", "1", "--data-dir", str(tmp_path), "--port", "4566"])
    assert down.exit_code == 2
    assert "no local cloud runs" in down.output
