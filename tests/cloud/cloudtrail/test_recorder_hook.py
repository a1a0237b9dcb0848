"""The recorder hands each folded log file to its deliveries, after the file is safely written."""

from __future__ import annotations

import json
from pathlib import Path

from kmslab.trail import TrailRecorder


def _record(n: int, region: str = "us-east-1") -> dict[str, object]:
    return {"eventTime": "2026-12-02T10:00:00Z", "awsRegion": region, "eventName": f"Call{n}", "eventID": str(n)}


def test_each_folded_file_reaches_every_delivery_once_and_a_failing_delivery_loses_no_file(tmp_path: Path) -> None:
    got: list[tuple[str, bytes]] = []

    def broken(region: str, body: bytes) -> None:
        raise RuntimeError("the bucket is gone")

    recorder = TrailRecorder(tmp_path, account="111122223333", background=False)
    try:
        recorder.add_delivery(broken)
        recorder.add_delivery(lambda region, body: got.append((region, body)))
        for n in range(3):
            recorder.record(_record(n))
        recorder.record(_record(9, "eu-west-1"))
        files = recorder.flush()
        assert len(files) == 2 and all(f.exists() for f in files)
        assert sorted(region for region, _ in got) == ["eu-west-1", "us-east-1"]
        east = next(json.loads(body) for region, body in got if region == "us-east-1")
        assert [r["eventName"] for r in east["Records"]] == ["Call0", "Call1", "Call2"]
        recorder.flush()  # nothing new: nothing handed over again
        assert len(got) == 2
    finally:
        recorder.close()
