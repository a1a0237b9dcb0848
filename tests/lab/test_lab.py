"""The offline lab runs end to end through boto3 over HTTP and reports every step."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from kmslab.cli import main
from kmslab.lab import CHAPTERS, LabContext, Step, _runner, key_lifecycle, run_lab


def test_every_step_passes(tmp_path: Path) -> None:
    lines: list[str] = []
    report = run_lab(tmp_path / "kms", emit=lines.append)
    total = sum(len(steps) for _, steps in CHAPTERS)
    assert report.passed, "\n".join(lines)
    assert [r.number for r in report.results] == list(range(1, total + 1))
    assert all(r.passed for r in report.results) and report.not_run == ()
    text = "\n".join(lines)
    assert text.splitlines()[-1] == f"kmslab lab: all {total} steps passed"
    for number, (_, step) in enumerate(((n, s) for _, steps in CHAPTERS for n, s in enumerate(steps)), start=1):
        assert f"[{number}] {step.title}" in text
        assert f"proves: {step.proves}" in text
    # the real answers are shown: key state changes and the refusals, with their AWS codes
    assert "KMSInvalidStateException" in text and "is pending deletion." in text
    assert "NotFoundException" in text and "DisabledException" in text
    assert "PendingDeletion" in text and "ON_DEMAND" in text


def test_no_ciphertext_or_plaintext_is_printed(tmp_path: Path) -> None:
    lines: list[str] = []
    report = run_lab(tmp_path / "kms", emit=lines.append)
    text = "\n".join(lines)
    shown = dict(report.results[1].facts)["CiphertextBlob"]  # the Encrypt step
    assert re.fullmatch(r"\d+ bytes, starts 0x[0-9a-f]{12}\.\.\.", shown)
    assert key_lifecycle.MESSAGE.decode() not in text
    assert base64.b64encode(key_lifecycle.MESSAGE[:30]).decode()[:20] not in text
    long_words = [
        w for line in lines for w in line.split() if len(w) > 40 and not w.lstrip("'").startswith(("arn:", "/"))
    ]
    assert long_words == [], "something long (a blob?) was printed"


def test_temporary_data_dir_is_removed_unless_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Path] = []
    real = _runner.tempfile.mkdtemp

    def mkdtemp(**kwargs: str) -> str:
        path = real(dir=tmp_path, **kwargs)
        made.append(Path(path))
        return path

    monkeypatch.setattr(_runner.tempfile, "mkdtemp", mkdtemp)
    quiet: list[str] = []
    one_step = [("Key lifecycle", CHAPTERS[0][1][:1])]
    assert run_lab(emit=quiet.append, chapters=one_step).passed
    assert not made[0].exists()
    assert run_lab(emit=quiet.append, chapters=one_step, keep=True).passed
    assert made[1].exists() and f"kmslab lab: kept the local KMS data in {made[1]}" in quiet


def _wrong(ctx: LabContext) -> Sequence[tuple[str, str]]:
    ctx.kms.create_key()
    ctx.expect(False, "a new key is Disabled (deliberately wrong)")
    return []


def test_a_failing_step_is_named_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    chapter = (
        Step("Create a key", "Setup works.", lambda ctx: [("KeyId", ctx.kms.create_key()["KeyMetadata"]["KeyId"])]),
        Step("Expect the impossible", "A failing expectation is reported.", _wrong),
        Step("Never reached", "Later steps do not run after a failure.", lambda ctx: []),
    )
    monkeypatch.setattr(_runner, "CHAPTERS", (("Broken chapter", chapter),))
    assert main(["lab", "run"]) == 1  # the console script exits with main()'s status
    out = capsys.readouterr().out
    assert "[2] Expect the impossible" in out
    assert "    FAILED: a new key is Disabled (deliberately wrong)" in out
    assert "kmslab lab: step 2 failed: Expect the impossible: a new key is Disabled (deliberately wrong)" in out
    assert "kmslab lab: 1 later step(s) not run" in out
    assert "[3] Never reached" not in out
    assert out.rstrip().endswith("kmslab lab: 1 of 3 steps passed")


def test_lab_command_exits_0(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_runner, "CHAPTERS", (("Key lifecycle", CHAPTERS[0][1][:2]),))
    assert main(["lab", "run"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("kmslab lab: all 2 steps passed")
