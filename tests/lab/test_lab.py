"""The offline lab runs end to end through boto3 over HTTP (signed, recorded) and reports every step."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kmslab.cli import main
from kmslab.kms import ops
from kmslab.lab import (
    CHAPTERS,
    Chapter,
    LabContext,
    LabReport,
    Step,
    UnknownChapterError,
    _runner,
    deletion_alerts,
    envelopes,
    imported_material,
    key_access,
    key_lifecycle,
    multi_region,
    rotation,
    run_lab,
    select_chapters,
)


@dataclass(frozen=True)
class FullRun:
    report: LabReport
    text: str
    lines: list[str]
    lab_dir: Path


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> FullRun:
    """The whole lab, run once for the module (it takes a few seconds)."""
    lab_dir = tmp_path_factory.mktemp("lab")
    lines: list[str] = []
    report = run_lab(lab_dir, emit=lines.append)
    return FullRun(report, "\n".join(lines), lines, lab_dir)


def test_every_step_of_every_chapter_passes(full_run: FullRun) -> None:
    total = sum(len(chapter.steps) for chapter in CHAPTERS)
    assert full_run.report.passed, full_run.text
    assert [r.number for r in full_run.report.results] == list(range(1, total + 1))
    assert full_run.report.not_run == ()
    assert re.fullmatch(rf"kmslab lab: all {total} steps passed in \d+\.\d s", full_run.lines[-1])
    assert [c.number for c in CHAPTERS] == list(range(1, 9))
    for chapter in CHAPTERS:
        assert f"== Chapter {chapter.number}: {chapter.title}" in full_run.text
        for n, step in enumerate(chapter.steps, start=1):
            assert f"[{chapter.number}.{n}] {step.title}" in full_run.lines
            assert f"    proves: {step.proves}" in full_run.lines


def _facts(run: FullRun, label: str) -> dict[str, str]:
    [result] = [r for r in run.report.results if r.label == label]
    return dict(result.facts)


def test_the_chapters_show_the_real_answers(full_run: FullRun) -> None:
    text = full_run.text
    # 1: states and refusals with AWS's codes and messages
    assert "is pending deletion." in text and "DisabledException" in text and "NotFoundException" in text
    # 2: the envelope names the key ARN; a flipped bit releases nothing
    assert _facts(full_run, "2.2")["encrypted data key"].startswith("provider aws-kms, key arn:aws:kms:us-east-1:")
    assert _facts(full_run, "2.4")["decrypt"].startswith("refused: AuthenticationError")
    assert _facts(full_run, "2.4")["bytes released"] == "0"
    # 3: Bob's denial in AWS's words, the grant, the deciding Deny statement
    assert "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Encrypt" in text
    assert "deciding: [Deny] key policy: DenyAliceDecrypt" in text
    assert "with an explicit deny in a resource-based policy" in text
    # 4: an AUTOMATIC rotation after the clock moved, then an ON_DEMAND one
    assert _facts(full_run, "4.2")["ListKeyRotations"].startswith("AUTOMATIC at ")
    assert _facts(full_run, "4.4")["rotation 2"].startswith("ON_DEMAND at ")
    assert "UnsupportedOperationException" in _facts(full_run, "4.6")["RSA_2048 EnableKeyRotation"]
    # 5: expiry and re-import
    assert _facts(full_run, "5.4")["KeyState"] == "PendingImport"
    assert "IncorrectKeyMaterialException" in _facts(full_run, "5.6")["ImportKeyMaterial (other bytes)"]
    # 6: the replica decrypts
    assert re.search(r"Decrypt in eu-west-1 +Plaintext matches, KeyId arn:aws:kms:eu-west-1:\d{12}:key/mrk-", text)
    # 7: the alert, as SNS delivered it to the SQS subscriber
    assert _facts(full_run, "7.3")["SNS Subject"].startswith("KMS key pending deletion used: alias/kmslab-lab-billing-")
    assert "| Principal:      arn:aws:iam::111122223333:user/alice (IAMUser)" in text
    # 8: the audit rows
    assert re.search(r"Decrypt +arn:aws:iam::111122223333:user/alice +arn:aws:kms:us-east-1:", text)
    assert re.search(r"ScheduleKeyDeletion +arn:aws:iam::111122223333:root +7", text)


def test_the_lab_leaves_a_cloudtrail_that_the_audit_cli_reads(full_run: FullRun, capsys: Any) -> None:
    trail = full_run.lab_dir / "trail"
    assert list(trail.rglob("*.json.gz"))
    assert main(["audit", "query", "access_denied_calls", "--trail-dir", str(trail), "--days", "400"]) == 0
    assert "user/bob" in capsys.readouterr().out


def test_no_secret_ciphertext_or_plaintext_is_printed(full_run: FullRun) -> None:
    text = full_run.text
    shown = _facts(full_run, "1.2")["CiphertextBlob"]
    assert re.fullmatch(r"\d+ bytes, starts 0x[0-9a-f]{12}\.\.\.", shown)
    for module in (key_lifecycle, key_access, rotation, imported_material, multi_region, deletion_alerts):
        assert module.MESSAGE.decode() not in text, module.__name__
    identities = json.loads((full_run.lab_dir / "identities.json").read_text())
    for identity in identities["identities"]:
        assert identity["secret_access_key"] not in text
    allowed = re.compile(r"['(]?(arn:|/|AWSLogs/|detail\.)\S+|[0-9a-f]{64}:?")  # ARNs, paths, field names, grant IDs
    long_words = [w for line in full_run.lines for w in line.split() if len(w) > 40 and not allowed.fullmatch(w)]
    assert long_words == [], "something long (a blob?) was printed"
    assert envelopes.FILE_SIZE > 4 * 2**20


def test_chapter_selection_runs_only_those_chapters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "run", "--chapter", "4"]) == 0
    out = capsys.readouterr().out
    assert "== Chapter 4: Rotation" in out
    assert re.findall(r"^== Chapter (\d+)", out, flags=re.M) == ["4"]
    assert re.findall(r"^\[([\d.]+)\]", out, flags=re.M) == ["4.1", "4.2", "4.3", "4.4", "4.5", "4.6"]
    assert re.search(r"kmslab lab: all 6 steps passed in \d+\.\d s$", out.rstrip())


def test_a_chapter_brings_the_chapters_it_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert [c.number for c in select_chapters([8])] == [3, 7, 8]
    assert [c.number for c in select_chapters([5, 2, 5])] == [2, 5]
    assert main(["lab", "run", "-c", "8"]) == 0
    out = capsys.readouterr().out
    assert "kmslab lab: also running chapter(s) 3, 7, which the chosen ones build on" in out
    assert re.findall(r"^== Chapter (\d+)", out, flags=re.M) == ["3", "7", "8"]


def test_unknown_chapter_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UnknownChapterError, match="there is no lab chapter 12"):
        select_chapters([12])
    with pytest.raises(SystemExit) as exited:
        main(["lab", "run", "--chapter", "12"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "there is no lab chapter 12 (chapters: 1, 2, 3, 4, 5, 6, 7, 8)" in err
    assert len(err.strip().splitlines()) == 1


def test_list_shows_chapters_and_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "run", "--list"]) == 0
    out = capsys.readouterr().out
    assert "local KMS at" not in out
    assert "3. Who may use a key  (workshop/03-access.md)" in out
    assert "   7.3 The key_use_alert function publishes the alert" in out


def test_a_kms_that_breaks_aws_semantics_fails_the_lab(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A local KMS whose CancelKeyDeletion re-enables the key (AWS leaves it Disabled) is caught."""
    real = ops.OPERATIONS["CancelKeyDeletion"].handler

    def cancel_and_wrongly_enable(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        answer = real(ctx, params)
        key, _ = ctx.resolve(params["KeyId"], aliases=False)
        key.state = "Enabled"
        ctx.save(key)
        return answer

    monkeypatch.setitem(ops.OPERATIONS, "CancelKeyDeletion", ops.Operation(cancel_and_wrongly_enable))
    assert main(["lab", "run", "--chapter", "1"]) == 1
    out = capsys.readouterr().out
    expected = "a cancelled deletion leaves the key Disabled, got Enabled"
    assert f"    FAILED: {expected}" in out
    assert f"kmslab lab: step 1.12 failed: Cancel the deletion: {expected}" in out
    assert "kmslab lab: 2 later step(s) not run" in out
    assert "[1.13]" not in out
    assert out.rstrip().endswith("kmslab lab: 11 of 14 steps passed")


def _wrong(ctx: LabContext) -> Sequence[tuple[str, str]]:
    ctx.kms.create_key()
    ctx.expect(False, "a new key is Disabled (deliberately wrong)")
    return []


def test_a_failing_step_stops_the_run_and_later_chapters_are_not_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = Chapter(
        1,
        "Broken chapter",
        (
            Step("Create a key", "Setup works.", lambda ctx: [("KeyId", ctx.kms.create_key()["KeyMetadata"]["KeyId"])]),
            Step("Expect the impossible", "A failing expectation is reported.", _wrong),
            Step("Never reached", "Later steps do not run after a failure.", lambda ctx: []),
        ),
    )
    later = Chapter(2, "Later chapter", (Step("Also never reached", "Later chapters stop too.", lambda ctx: []),))
    monkeypatch.setattr(_runner, "CHAPTERS", (broken, later))
    assert main(["lab", "run"]) == 1  # the console script exits with main()'s status
    out = capsys.readouterr().out
    assert "[1.2] Expect the impossible" in out
    assert "    FAILED: a new key is Disabled (deliberately wrong)" in out
    assert "kmslab lab: step 1.2 failed: Expect the impossible: a new key is Disabled (deliberately wrong)" in out
    assert "kmslab lab: 2 later step(s) not run" in out
    assert "[1.3] Never reached" not in out and "Chapter 2" not in out
    assert out.rstrip().endswith("kmslab lab: 1 of 4 steps passed")


def test_temporary_lab_dir_is_removed_unless_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Path] = []
    real = _runner.tempfile.mkdtemp

    def mkdtemp(**kwargs: str) -> str:
        path = real(dir=tmp_path, **kwargs)
        made.append(Path(path))
        return path

    monkeypatch.setattr(_runner.tempfile, "mkdtemp", mkdtemp)
    quiet: list[str] = []
    one_step = [("Key lifecycle", CHAPTERS[0].steps[:1])]
    assert run_lab(emit=quiet.append, chapters=one_step).passed
    assert not made[0].exists()
    assert run_lab(emit=quiet.append, chapters=one_step, keep=True).passed
    assert made[1].exists() and f"kmslab lab: kept the lab files in {made[1]}" in quiet
    assert (made[1] / "identities.json").stat().st_mode & 0o077 == 0
