"""``kmslab lab run``: the guide's chapters against a local cloud with the kit deployed, the report, the options."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from rich.console import Console

from kmslab.cli import main
from kmslab.cloud.alerts.mail import Mailbox
from kmslab.lab import (
    CHAPTERS,
    Chapter,
    LabRun,
    RunOptions,
    Selection,
    Step,
    UnknownChapterError,
    ch05_s3,
    ch09_deletion,
    run_lab,
    select,
)
from kmslab.lab._runner import summarise
from tests.assembly import ROOT, synthesize_kit


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kit's assembly, synthesized once (offline, without Node.js) for the module."""
    return synthesize_kit(
        tmp_path_factory.mktemp("kit") / "cdk.out", {"account": "111122223333", "region": "us-east-1"}
    )


@dataclass
class FullRun:
    run: LabRun
    text: str
    data_dir: Path
    report: Path
    bucket: str
    head: dict[str, Any]
    key_states: set[str]


@pytest.fixture(scope="module")
def full_run(app: Path, tmp_path_factory: pytest.TempPathFactory) -> FullRun:
    """Every chapter, once; the kept cloud is looked at, then stopped (moto's state is per process)."""
    work = tmp_path_factory.mktemp("lab")
    out = io.StringIO()
    console = Console(file=out, width=200, soft_wrap=True, highlight=False)
    options = RunOptions(work / "data", app, ROOT, work / "report", keep=True)
    run = run_lab(select(), options, console)
    summarise(run, console)
    try:
        bucket = run.lab.resource("KmslabStorage", "DataBucket")  # retained by chapter 12's destroy
        head = run.lab.client("s3", "admin").head_object(Bucket=bucket, Key=ch05_s3.KEY)
        kms = run.lab.client("kms", "admin")
        states = {kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in kms.list_keys()["Keys"]}
    finally:
        run.lab.stop()
    return FullRun(run, out.getvalue(), options.data_dir, work / "report" / "index.html", bucket, head, states)


def _facts(run: LabRun, label: str) -> dict[str, str]:
    [result] = [r for r in run.report.results if r.label == label]
    return dict(result.facts)


def test_every_step_of_every_chapter_passes_quickly(full_run: FullRun) -> None:
    report = full_run.run.report
    assert report.passed, full_run.text
    assert [c.number for c in CHAPTERS] == list(range(2, 13))
    labels = [f"{c.number}.{n}" for c in CHAPTERS for n in range(1, len(c.steps) + 1)]
    assert [r.label for r in report.results] == labels
    for chapter in CHAPTERS:
        assert f"Chapter {chapter.number}: {chapter.title} (workshop/{chapter.guide})" in full_run.text
        for n, step in enumerate(chapter.steps, start=1):
            assert f"✓ {chapter.number}.{n} {step.title}" in full_run.text
    assert full_run.run.seconds < 120, full_run.run.seconds  # well under a minute alone; the machine is shared


def test_chapter_5_leaves_ciphertext_at_rest_written_with_a_bucket_key(full_run: FullRun) -> None:
    head = full_run.head
    assert head["ServerSideEncryption"] == "aws:kms" and head["BucketKeyEnabled"] is True
    stored = [p for p in (full_run.data_dir / "s3").rglob("*") if p.is_file()]
    assert stored and not any(ch05_s3.NOTES in p.read_bytes() for p in stored)
    facts = _facts(full_run.run, "5.2")
    assert facts[f"{ch05_s3.UPLOADS} uploads without it"].startswith(f"{ch05_s3.UPLOADS} calls")


def test_chapter_9_mails_the_alert_naming_the_object(full_run: FullRun) -> None:
    mails = [m for m in Mailbox(full_run.data_dir / "mail").list() if "pending deletion used" in m.subject]
    assert len(mails) >= 1
    bucket = full_run.bucket
    assert mails[0].to == ch09_deletion.ADDRESS
    assert f"arn:aws:s3:::{bucket}/{ch09_deletion.OBJECT}" in mails[0].body
    assert "cancel-key-deletion" in mails[0].body
    facts = _facts(full_run.run, "9.5")  # AWS's metric-filter alarm went to ALARM and mailed the topic
    assert facts["alarm"].endswith("went to ALARM and notified the alert topic")
    assert facts["e-mail"].startswith(f'to {ch09_deletion.ADDRESS}: ALARM: "')


def test_chapter_10_and_12_real_effects(full_run: FullRun) -> None:
    queries = {name for name in _report_text(full_run).split("<h3>")[1:]}
    assert any(q.startswith("pending_deletion_key_use") for q in queries)
    states = full_run.key_states
    assert "Enabled" not in states  # chapter 12 scheduled every key that was left
    assert "PendingDeletion" in states


def _report_text(run: FullRun) -> str:
    return run.report.read_text(encoding="utf-8")


class _Resources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        for name in ("src", "href", "srcset", "poster", "data", "xlink:href"):
            value = found.get(name) or ""
            if "//" in value or value.startswith(("http:", "https:")):
                self.loaded.append(f"{tag} {name}={value}")
        if tag == "link" or (tag == "script" and found.get("src")):
            self.loaded.append(tag)


def test_the_report_is_self_contained_with_timeline_mail_and_tables(full_run: FullRun) -> None:
    text = _report_text(full_run)
    assert str(full_run.report.resolve()) in full_run.text  # its path is printed
    parser = _Resources()
    parser.feed(text)
    assert parser.loaded == []
    assert "@import" not in text and "url(" not in text
    dots = [a.get("data-outcome") for t, a in parser.tags if t == "circle"]
    assert {"success", "AccessDenied", "KMSInvalidStateException"} <= set(dots)
    assert sum(1 for t, _ in parser.tags if t == "svg") == 1
    assert ">alias/kmslab/data</text>" in text  # a timeline row named by its alias, though chapter 12 deleted it
    assert "KMS key pending deletion used" in text and ch09_deletion.OBJECT in text
    for name in ("access_denied_calls", "key_lifecycle_events", "pending_deletion_key_use", "kms_calls_by_key"):
        assert f"<h3>{name}</h3>" in text
    assert text.count("<table>") >= 10


def test_list_names_every_step_and_starts_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "run", "--list"]) == 0
    out = capsys.readouterr().out
    assert "local cloud at" not in out
    assert "5. S3 with SSE-KMS  (workshop/05-s3.md)" in out
    assert "   9.4 Read the invoice while the key is pending deletion" in out
    assert "   10.9 Run pending_deletion_key_use" in out


def test_step_and_chapter_selection() -> None:
    picked = select((), ("5.3",))
    assert [c.number for c in picked.chapters] == [5] and [n for n, _ in picked.steps_of(picked.chapters[0])] == [
        1,
        2,
        3,
    ]
    assert [c.number for c in select((10,)).chapters] == [9, 10]
    both = select((3,), ("3.2",))
    assert len(both.steps_of(both.chapters[0])) == len(CHAPTERS[1].steps)  # --chapter 3 wins: every step
    with pytest.raises(UnknownChapterError, match=r"there is no lab step 5.99 \(steps of chapter 5: 5.1 to 5.7\)"):
        select((), ("5.99",))
    with pytest.raises(UnknownChapterError, match="is not a step number"):
        select((), ("five",))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--chapter", "1"], "there is no lab chapter 1 (chapters: 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)"),
        (["--step", "4.42"], "there is no lab step 4.42"),
    ],
)
def test_unknown_chapter_or_step_is_one_line_and_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["lab", "run", *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_one_chapter_runs_alone_with_the_guides_checkpoint(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--chapter 3 runs only chapter 3; its checkpoint runs with the lab's profiles (admin, and alice's role)."""
    from kmslab.guide import checks
    from kmslab.guide.checks import Finding

    def data_key(env: checks.CheckEnv) -> Finding:
        """The data key is enabled."""
        state = env.client("kms").describe_key(KeyId="alias/kmslab/data")["KeyMetadata"]["KeyState"]
        return Finding.done("the data key is Enabled") if state == "Enabled" else Finding.missing("data key", state)

    def alice(env: checks.CheckEnv) -> Finding:
        """Alice works through the key-user role."""
        arn = env.client("sts", profile="alice").get_caller_identity()["Arn"]
        return Finding.done(f"alice is {arn}")

    def missing(env: checks.CheckEnv) -> Finding:
        """Something not done."""
        return Finding.missing("a thing not done yet", "do it in step 3.9")

    chapter = checks.Chapter(3, "Who may use a key", (data_key, alice, missing))
    monkeypatch.setattr(checks, "chapters", lambda: {3: chapter})
    argv = ["lab", "run", "--chapter", "3", "--data-dir", str(tmp_path / "d"), "--app", str(app)]
    assert main([*argv, "--report-dir", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("Chapter ")] == ["3:"]
    assert "✓ 3.7 Ask why Alice is refused" in out
    assert "Checkpoint (kmslab check 3): 2 of 3 done" in out
    assert "✓ the data key is Enabled" in out
    assert "✓ alice is arn:aws:sts::111122223333:assumed-role/kmslab-key-user/alice" in out
    assert "✗ a thing not done yet: do it in step 3.9" in out
    assert not (tmp_path / "d" / "local.json").exists()  # the cloud was stopped and released


def _broken(ctx: Any) -> list[tuple[str, str]]:
    ctx.expect(ctx.kms.describe_key(KeyId="alias/kmslab/data")["KeyMetadata"]["KeyState"] == "Disabled", "impossible")
    return []


def test_a_failing_step_stops_the_run_and_is_named(app: Path, tmp_path: Path) -> None:
    chapter = Chapter(
        2,
        "Broken",
        (
            Step("Look at the data key", "Setup works.", lambda ctx: [("ok", "yes")]),
            Step("Expect the impossible", "A failing expectation is reported.", _broken),
            Step("Never reached", "Later steps do not run.", lambda ctx: []),
        ),
    )
    out = io.StringIO()
    options = RunOptions(tmp_path / "d", app, ROOT, tmp_path / "r", pause=True)
    prompts: list[str] = []
    run = run_lab(Selection((chapter,), {}), options, Console(file=out, width=200, soft_wrap=True), prompts.append)
    assert prompts == [
        "  press Enter for step 2.2 (Expect the impossible) "
    ]  # --pause: before every step but the first
    assert not run.report.passed
    assert [r.label for r in run.report.results] == ["2.1", "2.2"]
    assert run.report.not_run == ("2.3 Never reached",)
    assert "✗ 2.2 Expect the impossible" in out.getvalue() and "FAILED: impossible" in out.getvalue()
    assert "FAILED: impossible" in run.report_file.read_text() if run.report_file else False


def test_keep_leaves_a_cloud_that_answers(app: Path, tmp_path: Path) -> None:
    data = tmp_path / "kept"
    argv = [sys.executable, "-m", "kmslab", "lab", "run", "--step", "2.1", "--keep", "--data-dir", str(data)]
    argv += ["--app", str(app), "--report-dir", str(tmp_path / "r")]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=240)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"kmslab local env --data-dir {data} --as admin" in done.stdout
        assert f"kmslab local profiles --data-dir {data}" in done.stdout
        state = json.loads((data / "local.json").read_text())
        identities = json.loads((data / "identities.json").read_text())
        admin = next(i for i in identities["identities"] if i["arn"].endswith("/admin"))
        kms = boto3.client(
            "kms",
            endpoint_url=state["url"],
            region_name="us-east-1",
            verify=state["ca"],
            aws_access_key_id=admin["access_key_id"],
            aws_secret_access_key=admin["secret_access_key"],
            config=Config(retries={"max_attempts": 1}),
        )
        assert kms.describe_key(KeyId="alias/kmslab/data")["KeyMetadata"]["KeyState"] == "Enabled"
        env = subprocess.run(
            [sys.executable, "-m", "kmslab", "local", "env", "--data-dir", str(data), "--as", "alice"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert f"export AWS_ENDPOINT_URL={state['url']}" in env.stdout
    finally:
        down = subprocess.run(
            [sys.executable, "-m", "kmslab", "local", "down", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert down.stdout.startswith("kmslab local: stopped (pid")
    assert not os.path.exists(data / "local.pid")


def test_no_node_when_synthesis_is_needed_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import kmslab.cloud.deploy.run as deploy_run

    monkeypatch.setattr(deploy_run.shutil, "which", lambda name: None)
    argv = ["lab", "run", "--step", "2.1", "--data-dir", str(tmp_path / "d"), "--app", str(tmp_path / "none")]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["kmslab: error: npx is not installed: Node.js 18+ with npm is needed to synthesize (or pass --app)"]


def test_a_cloud_that_breaks_aws_semantics_fails_the_lab(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A KMS whose CancelKeyDeletion re-enables the key (AWS leaves it Disabled) is caught by step 9.6."""
    from kmslab.kms import ops

    real = ops.OPERATIONS["CancelKeyDeletion"].handler

    def cancel_and_wrongly_enable(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        answer = real(ctx, params)
        key, _ = ctx.resolve(params["KeyId"], aliases=False)
        key.state = "Enabled"
        ctx.save(key)
        return answer

    monkeypatch.setitem(ops.OPERATIONS, "CancelKeyDeletion", ops.Operation(cancel_and_wrongly_enable))
    argv = ["lab", "run", "--step", "9.6", "--data-dir", str(tmp_path / "d"), "--app", str(app)]
    assert main([*argv, "--report-dir", str(tmp_path / "r")]) == 1
    out = capsys.readouterr().out
    expected = "a cancelled deletion leaves the key Disabled, got Enabled"
    assert f"FAILED: {expected}" in out
    assert f"kmslab lab: step 9.6 failed: Cancel the deletion and enable the key: {expected}" in out
    assert "kmslab lab: 5 of 6 steps passed in" in out


def test_keep_reports_a_failed_start_in_one_line(tmp_path: Path) -> None:
    """With --keep the run happens in a forked child: its failure still ends in one line and status 2."""
    argv = [sys.executable, "-m", "kmslab", "lab", "run", "--keep", "--step", "2.1"]
    argv += ["--data-dir", str(tmp_path / "d"), "--app", str(tmp_path / "none"), "--report-dir", str(tmp_path / "r")]
    env = {**os.environ, "PATH": str(tmp_path)}  # no npx: the missing assembly cannot be synthesized
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "kmslab: error: npx is not installed: Node.js 18+ with npm is needed to synthesize (or pass --app)"
    ]
