"""Run the lab: start the local KMS on a free port, point boto3 at it, run every chapter."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import boto3
from botocore.config import Config

from kmslab.kms.control import ControlClient
from kmslab.lab import key_lifecycle
from kmslab.lab._steps import LabContext, LabReport, Step, StepResult, run_steps

#: the lab's chapters, in order: (title, steps). Later chapters append here.
CHAPTERS: tuple[tuple[str, tuple[Step, ...]], ...] = (("Key lifecycle", key_lifecycle.STEPS),)

LAB_REGION = "us-east-1"
# Documented AWS example credentials: the local endpoint accepts any.
_FAKE_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
_FAKE_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # noqa: S105 - AWS's documented example key


def run_lab(
    data_dir: str | Path | None = None,
    *,
    keep: bool = False,
    emit: Callable[[str], None] = print,
    chapters: Sequence[tuple[str, Sequence[Step]]] | None = None,
) -> LabReport:
    """Run the lab end to end against a local KMS endpoint started in this process.

    Args:
        data_dir: where the local KMS keeps its keys; None uses a fresh temporary directory.
        keep: keep the temporary directory afterwards (a given ``data_dir`` is always kept).
        emit: prints one line of narration.
        chapters: ``(title, steps)`` pairs to run; None runs :data:`CHAPTERS`.

    Returns:
        The report: which steps ran and whether each passed.
    """
    from kmslab.kms.server import build_server

    temporary = data_dir is None
    directory = Path(tempfile.mkdtemp(prefix="kmslab-lab-")) if data_dir is None else Path(data_dir)
    try:
        with build_server(data_dir=str(directory), port=0, region=LAB_REGION) as server:
            emit(f"kmslab lab: local KMS at {server.url} (data in {directory})")
            client = boto3.session.Session(
                aws_access_key_id=_FAKE_ACCESS_KEY, aws_secret_access_key=_FAKE_SECRET_KEY, region_name=LAB_REGION
            ).client(
                "kms",
                endpoint_url=server.url,
                config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
            )
            ctx = LabContext(kms=client, control=ControlClient(server.url), endpoint=server.url)
            report = _run_chapters(CHAPTERS if chapters is None else chapters, ctx, emit)
            client.close()
    finally:
        if temporary and not keep:
            shutil.rmtree(directory, ignore_errors=True)
        elif temporary:
            emit(f"kmslab lab: kept the local KMS data in {directory}")
    _summarise(report, emit)
    return report


def _run_chapters(
    chapters: Sequence[tuple[str, Sequence[Step]]], ctx: LabContext, emit: Callable[[str], None]
) -> LabReport:
    results: list[StepResult] = []
    not_run: list[str] = []
    for index, (title, steps) in enumerate(chapters, start=1):
        if not_run:
            not_run.extend(step.title for step in steps)
            continue
        emit("")
        emit(f"== Chapter {index}: {title}")
        report = run_steps(steps, ctx, emit, start=len(results) + 1)
        results.extend(report.results)
        not_run.extend(report.not_run)
    return LabReport(tuple(results), tuple(not_run))


def _summarise(report: LabReport, emit: Callable[[str], None]) -> None:
    emit("")
    passed = sum(1 for result in report.results if result.passed)
    total = len(report.results) + len(report.not_run)
    if report.passed:
        emit(f"kmslab lab: all {total} steps passed")
        return
    for failure in report.failures:
        emit(f"kmslab lab: step {failure.number} failed: {failure.step.title}: {failure.failure}")
    if report.not_run:
        emit(f"kmslab lab: {len(report.not_run)} later step(s) not run")
    emit(f"kmslab lab: {passed} of {total} steps passed")
