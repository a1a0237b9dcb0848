"""Run the lab: start the local KMS (with its CloudTrail recorder and SigV4 identities), run the chapters.

The endpoint is :func:`kmslab.endpoint.build_endpoint`, exactly what ``kmslab kms serve --trail-dir
--identities`` runs; every step talks to it through boto3 over HTTP, signed as root, Alice or Bob.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from kmslab.kms.control import ControlClient
from kmslab.lab import (
    auditing,
    deletion_alerts,
    envelopes,
    imported_material,
    key_access,
    key_lifecycle,
    multi_region,
    rotation,
)
from kmslab.lab._identities import LAB_ACCOUNT, principal_arn, write_identities
from kmslab.lab._steps import LAB_REGION, Chapter, LabContext, LabError, LabReport, Step, StepResult, run_steps

#: the lab's chapters, in order; ``kmslab lab run --chapter N`` picks some (with what they require)
CHAPTERS: tuple[Chapter, ...] = (
    Chapter(1, "Keys and states", key_lifecycle.STEPS, guide="01-keys.md"),
    Chapter(2, "Envelope encryption", envelopes.STEPS, guide="02-envelope.md"),
    Chapter(3, "Who may use a key", key_access.STEPS, guide="03-access.md"),
    Chapter(4, "Rotation", rotation.STEPS, guide="04-rotation.md"),
    Chapter(5, "Imported key material", imported_material.STEPS, guide="05-import.md"),
    Chapter(6, "Multi-Region keys", multi_region.STEPS, guide="00-setup.md"),
    Chapter(7, "Deleting keys safely, and the alert", deletion_alerts.STEPS, guide="06-deletion.md"),
    Chapter(8, "Auditing KMS with CloudTrail", auditing.STEPS, guide="07-audit.md", requires=(3, 7)),
)

ChapterLike = Chapter | tuple[str, Sequence[Step]]

_CLIENT_CONFIG = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)


class UnknownChapterError(LabError):
    """``--chapter`` named a chapter the lab does not have."""


def select_chapters(numbers: Iterable[int], chapters: Sequence[Chapter] = CHAPTERS) -> tuple[Chapter, ...]:
    """Pick chapters by number, adding the earlier chapters they require, in lab order.

    Args:
        numbers: the chapter numbers asked for.
        chapters: the chapters to pick from.

    Returns:
        The chapters to run, in order.

    Raises:
        UnknownChapterError: a number names no chapter.
    """
    by_number = {chapter.number: chapter for chapter in chapters}
    wanted: set[int] = set()
    pending = list(numbers)
    while pending:
        number = pending.pop()
        if number not in by_number:
            known = ", ".join(str(n) for n in sorted(by_number))
            raise UnknownChapterError(f"there is no lab chapter {number} (chapters: {known})")
        if number not in wanted:
            wanted.add(number)
            pending.extend(by_number[number].requires)
    return tuple(chapter for chapter in chapters if chapter.number in wanted)


def run_lab(
    data_dir: str | Path | None = None,
    *,
    keep: bool = False,
    emit: Callable[[str], None] = print,
    chapters: Sequence[ChapterLike] | None = None,
) -> LabReport:
    """Run the lab end to end against a local KMS endpoint started in this process.

    The lab directory holds ``kms/`` (the endpoint's keys), ``trail/`` (CloudTrail log files, emptied
    at the start of each run), ``identities.json`` (fresh access keys for root, Alice and Bob) and
    ``work/`` (files the steps write).

    Args:
        data_dir: the lab directory; None uses a fresh temporary directory.
        keep: keep the temporary directory afterwards (a given ``data_dir`` is always kept).
        emit: prints one line of narration.
        chapters: the chapters to run (:class:`Chapter`, or ``(title, steps)`` pairs); None runs :data:`CHAPTERS`.

    Returns:
        The report: which steps ran and whether each passed.
    """
    from kmslab.endpoint import build_endpoint
    from kmslab.kms.authz import load_identities

    started = time.monotonic()
    temporary = data_dir is None
    directory = Path(tempfile.mkdtemp(prefix="kmslab-lab-")) if data_dir is None else Path(data_dir)
    to_run = _as_chapters(CHAPTERS if chapters is None else chapters)
    try:
        trail_dir = directory / "trail"
        shutil.rmtree(trail_dir, ignore_errors=True)
        work_dir = directory / "work"
        work_dir.mkdir(parents=True, exist_ok=True)
        store = load_identities(write_identities(directory / "identities.json"))
        endpoint = build_endpoint(
            data_dir=directory / "kms",
            port=0,
            region=LAB_REGION,
            trail_dir=trail_dir,
            identities=store,
            flush_interval=1.0,
        )
        with endpoint.server.start() as server:
            emit(f"kmslab lab: local KMS at {server.url} (lab files in {directory})")
            emit(f"kmslab lab: account {store.account}; signing as root, alice and bob (identities.json)")

            def make_client(who: str, service: str, region: str) -> Any:
                identity = store.by_arn(principal_arn(who, store.account))
                if identity is None:
                    raise LabError(f"the lab has no identity called {who!r}")
                session = boto3.session.Session(
                    aws_access_key_id=identity.access_key_id,
                    aws_secret_access_key=identity.secret_access_key,
                    region_name=region,
                )
                return session.client(service, endpoint_url=server.url, config=_CLIENT_CONFIG)

            ctx = LabContext(
                kms=make_client("root", "kms", LAB_REGION),
                control=ControlClient(server.url),
                endpoint=server.url,
                work_dir=work_dir,
                account=store.account or LAB_ACCOUNT,
                identities=store,
                recorder=endpoint.recorder,
                trail_dir=trail_dir,
                client_factory=make_client,
            )
            try:
                report = _run_chapters(to_run, ctx, emit)
            finally:
                for close in reversed(ctx.closers):
                    close()
    finally:
        if temporary and not keep:
            shutil.rmtree(directory, ignore_errors=True)
        elif temporary:
            emit(f"kmslab lab: kept the lab files in {directory}")
    _summarise(report, emit, time.monotonic() - started)
    return report


def _as_chapters(chapters: Sequence[ChapterLike]) -> tuple[Chapter, ...]:
    out: list[Chapter] = []
    for index, chapter in enumerate(chapters, start=1):
        if isinstance(chapter, Chapter):
            out.append(chapter)
        else:
            title, steps = chapter
            out.append(Chapter(index, title, tuple(steps)))
    return tuple(out)


def _run_chapters(chapters: Sequence[Chapter], ctx: LabContext, emit: Callable[[str], None]) -> LabReport:
    results: list[StepResult] = []
    not_run: list[str] = []
    for chapter in chapters:
        if not_run:
            not_run.extend(f"{chapter.number}.{n} {step.title}" for n, step in enumerate(chapter.steps, start=1))
            continue
        emit("")
        guide = f" (workshop/{chapter.guide})" if chapter.guide else ""
        emit(f"== Chapter {chapter.number}: {chapter.title}{guide}")
        report = run_steps(chapter.steps, ctx, emit, start=len(results) + 1, chapter=chapter.number)
        results.extend(report.results)
        not_run.extend(report.not_run)
    return LabReport(tuple(results), tuple(not_run))


def _summarise(report: LabReport, emit: Callable[[str], None], seconds: float) -> None:
    emit("")
    passed = sum(1 for result in report.results if result.passed)
    total = len(report.results) + len(report.not_run)
    if report.passed:
        emit(f"kmslab lab: all {total} steps passed in {seconds:.1f} s")
        return
    for failure in report.failures:
        emit(f"kmslab lab: step {failure.name} failed: {failure.step.title}: {failure.failure}")
    if report.not_run:
        emit(f"kmslab lab: {len(report.not_run)} later step(s) not run")
    emit(f"kmslab lab: {passed} of {total} steps passed")
