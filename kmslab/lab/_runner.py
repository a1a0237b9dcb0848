"""Run the lab: a local cloud with the kit deployed, the guide's chapters step by step (Rich), the report.

:func:`run_lab` prepares ``--data-dir``, synthesizes the kit if needed, starts the cloud in this
process on a free port, deploys the kit, runs the selected steps as the workshop identities, runs
each chapter's checkpoint (``kmslab check N``) when the guide has one, writes ``lab-report/index.html``
and stops the cloud (unless asked to keep it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmslab.errors import KmslabError
from kmslab.lab import (
    ch02_keys,
    ch03_access,
    ch04_envelope,
    ch05_s3,
    ch06_rotation,
    ch07_import,
    ch08_multi_region,
    ch09_deletion,
    ch10_audit,
    ch11_services,
    ch12_cleanup,
)
from kmslab.lab._steps import Chapter, LabContext, LabError, LabReport, Step, StepResult

#: the lab's chapters, numbered as the guide's (GUIDE.md); chapter 1 (preparation) is what the runner does first
CHAPTERS: tuple[Chapter, ...] = (
    Chapter(2, "Keys", ch02_keys.STEPS, guide="02-keys.md"),
    Chapter(3, "Who may use a key", ch03_access.STEPS, guide="03-access.md"),
    Chapter(4, "Envelope encryption and data keys", ch04_envelope.STEPS, guide="04-envelope.md"),
    Chapter(5, "S3 with SSE-KMS", ch05_s3.STEPS, guide="05-s3.md"),
    Chapter(6, "Rotation", ch06_rotation.STEPS, guide="06-rotation.md"),
    Chapter(7, "Imported key material", ch07_import.STEPS, guide="07-import.md"),
    Chapter(8, "Multi-Region keys", ch08_multi_region.STEPS, guide="08-multi-region.md"),
    Chapter(9, "Deleting keys safely", ch09_deletion.STEPS, guide="09-deletion.md"),
    Chapter(10, "CloudTrail and Athena", ch10_audit.STEPS, guide="10-audit.md", requires=(9,)),
    Chapter(
        11, "Other services: Parameter Store and Secrets Manager", ch11_services.STEPS, guide="11-other-services.md"
    ),
    Chapter(12, "Clean-up", ch12_cleanup.STEPS, guide="12-clean-up.md"),
)


class UnknownChapterError(LabError):
    """``--chapter`` or ``--step`` named a chapter or step the lab does not have."""


@dataclass(frozen=True)
class Selection:
    """What to run: chapters, and within them the step numbers (None: every step).

    Args:
        chapters: the chapters, in lab order.
        steps: chapter number -> the 1-based step numbers to run; a chapter not named runs every step.
    """

    chapters: tuple[Chapter, ...]
    steps: dict[int, tuple[int, ...]]

    def steps_of(self, chapter: Chapter) -> list[tuple[int, Step]]:
        """The chapter's selected steps with their numbers."""
        wanted = self.steps.get(chapter.number)
        return [(n, s) for n, s in enumerate(chapter.steps, start=1) if wanted is None or n in wanted]

    @property
    def total(self) -> int:
        """How many steps run."""
        return sum(len(self.steps_of(c)) for c in self.chapters)


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


def select(
    chapter_numbers: Sequence[int] = (), step_labels: Sequence[str] = (), chapters: Sequence[Chapter] = CHAPTERS
) -> Selection:
    """Turn ``--chapter`` and ``--step`` into a selection.

    A step runs with the earlier steps of its chapter that it builds on (every earlier step of that
    chapter), so ``--step 5.4`` runs 5.1 to 5.4. Without either option, everything runs.

    Args:
        chapter_numbers: ``--chapter`` values.
        step_labels: ``--step`` values (``N.M``).
        chapters: the chapters.

    Returns:
        The selection.

    Raises:
        UnknownChapterError: a chapter or step does not exist, or a step label is not ``N.M``.
    """
    by_number = {chapter.number: chapter for chapter in chapters}
    steps: dict[int, tuple[int, ...]] = {}
    numbers = list(chapter_numbers)
    for label in step_labels:
        head, dot, tail = label.partition(".")
        if not (dot and head.isdigit() and tail.isdigit()):
            raise UnknownChapterError(f"{label!r} is not a step number N.M (e.g. 5.2)")
        number, step = int(head), int(tail)
        chapter = by_number.get(number)
        if chapter is None or not 1 <= step <= len(chapter.steps):
            size = f"{number}.1 to {number}.{len(chapter.steps)}" if chapter else "none"
            raise UnknownChapterError(f"there is no lab step {label} (steps of chapter {number}: {size})")
        if number not in chapter_numbers:
            upto = max(step, max(steps.get(number, (0,))))
            steps[number] = tuple(range(1, upto + 1))
        numbers.append(number)
    picked = select_chapters(numbers, chapters) if numbers else tuple(chapters)
    return Selection(picked, steps)


@dataclass
class RunOptions:
    """How to run the lab.

    Args:
        data_dir: the cloud's data directory (emptied first).
        app: the kit's cloud assembly (``cdk.out``), synthesized when needed.
        root: the project root.
        report_dir: where ``index.html`` goes.
        pause: wait for Enter between steps.
        keep: leave the cloud running (the caller stops it later with :func:`kmslab.lab._cloud.LabCloud.stop`).
    """

    data_dir: Path
    app: Path
    root: Path
    report_dir: Path
    pause: bool = False
    keep: bool = False


@dataclass
class LabRun:
    """The outcome of a run: the report, the report file, the cloud (running when kept) and the time taken."""

    report: LabReport
    report_file: Path | None
    lab: Any
    seconds: float


def run_lab(selection: Selection, options: RunOptions, console: Any, wait: Callable[[str], object] = input) -> LabRun:
    """Run the selected steps against a fresh local cloud with the kit deployed.

    Args:
        selection: what to run.
        options: where and how.
        console: a ``rich.console.Console``.
        wait: reads Enter for ``--pause`` (``input``).

    Returns:
        The run; with ``options.keep`` its cloud still runs.

    Raises:
        LabCloudError: the cloud could not start or the kit not deploy.
    """
    from kmslab.lab import _cloud, _report

    started = time.monotonic()

    def say(line: str) -> None:
        console.print(f"[dim]kmslab lab:[/dim] {line}", highlight=False)

    _cloud.prepare_data_dir(options.data_dir)
    assembly = _cloud.assembly_for(options.app, options.root, say)
    lab = _cloud.start(options.data_dir, assembly, options.root, say)
    ctx = LabContext(lab=lab, work_dir=options.data_dir / "work")
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    try:
        report = _run_selection(selection, ctx, console, options.pause, wait)
        if lab.cloud.recorder is not None:
            lab.cloud.recorder.flush()
        report_file = _report.write_report(ctx, report, options.report_dir)
    except BaseException:
        lab.stop()
        raise
    if not options.keep:
        lab.stop()
    return LabRun(report, report_file, lab, time.monotonic() - started)


def _run_selection(
    selection: Selection, ctx: LabContext, console: Any, pause: bool, wait: Callable[[str], object]
) -> LabReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kmslab.lab import _profiles

    profiles = _profiles.write_profiles(ctx.lab)
    results: list[StepResult] = []
    not_run: list[str] = []
    progress = Progress(
        TextColumn("[bold]lab[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("", total=selection.total)
    first = True
    with progress:
        for chapter in selection.chapters:
            steps = selection.steps_of(chapter)
            if not_run:
                not_run.extend(f"{chapter.number}.{n} {s.title}" for n, s in steps)
                continue
            guide = f" [dim](workshop/{chapter.guide})[/dim]" if chapter.guide else ""
            console.print()
            console.print(f"[bold]Chapter {chapter.number}: {chapter.title}[/bold]{guide}", highlight=False)
            for index, (number, step) in enumerate(steps):
                label = f"{chapter.number}.{number}"
                if pause and not first:
                    progress.stop()
                    try:
                        wait(f"  press Enter for step {label} ({step.title}) ")
                    except EOFError:  # stdin closed (not a terminal): run the remaining steps without pausing
                        pause = False
                    progress.start()
                first = False
                progress.update(task, description=f"{label} {step.title}")
                result = _run_step(step, ctx, label, len(results) + 1)
                results.append(result)
                _show(console, result)
                progress.advance(task)
                if not result.passed:
                    not_run.extend(f"{chapter.number}.{n} {s.title}" for n, s in steps[index + 1 :])
                    break
            if not not_run:
                _checkpoint(chapter.number, profiles, console)
    return LabReport(tuple(results), tuple(not_run))


def _run_step(step: Step, ctx: LabContext, label: str, number: int) -> StepResult:
    started = time.monotonic()
    failure: str | None = None
    facts: tuple[tuple[str, str], ...] = ()
    try:
        facts = tuple(step.action(ctx))
    except (KmslabError, ClientError, BotoCoreError) as exc:
        failure = " ".join(str(exc).split()) or type(exc).__name__
    except Exception as exc:  # a missing field or a client bug: the step failed, the lab goes on reporting
        failure = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    seconds = time.monotonic() - started
    return StepResult(number, step, failure is None, facts, failure, label, seconds)


def _show(console: Any, result: StepResult) -> None:
    from rich.markup import escape

    step = result.step
    timing = f"[dim]{result.seconds:.1f}s[/dim]"
    if result.passed:
        console.print(f"  [green]✓[/green] {result.label} {escape(step.title)} {timing}", highlight=False)
    else:
        console.print(f"  [red]✗[/red] {result.label} {escape(step.title)} {timing}", highlight=False)
        console.print(f"      [red]FAILED:[/red] {escape(result.failure or '')}", highlight=False)
        return
    width = max((len(label) for label, _ in result.facts if label), default=0)
    for label, value in result.facts:
        text = f"{label.ljust(width)}  {value}".rstrip() if label else f"  {value}".rstrip()
        console.print(f"      [dim]{escape(text)}[/dim]", highlight=False, soft_wrap=True)


def _checkpoint(number: int, profiles: Path, console: Any) -> None:
    """Run the guide's checkpoint of the chapter (``kmslab check N``) on the lab's state, when it has one."""
    from rich.markup import escape

    from kmslab.guide.checks import CheckEnv, chapters
    from kmslab.lab._profiles import profile_environment

    found = chapters().get(number)
    if found is None:
        return
    with profile_environment(profiles):
        findings = list(found.run(CheckEnv()))
    done = sum(1 for f in findings if f.ok)
    console.print(f"  [bold]Checkpoint[/bold] (kmslab check {number}): {done} of {len(findings)} done", highlight=False)
    for finding in findings:
        mark = "[green]✓[/green]" if finding.ok else "[yellow]✗[/yellow]"
        hint = "" if finding.ok else f": {finding.hint}"
        console.print(f"    {mark} {escape(finding.text + hint)}", highlight=False)


def summarise(run: LabRun, console: Any) -> None:
    """Print the closing lines: outcome, time, report path.

    Args:
        run: the run.
        console: the console.
    """
    from rich.markup import escape

    report = run.report
    passed = sum(1 for result in report.results if result.passed)
    total = len(report.results) + len(report.not_run)
    console.print()
    if report.passed:
        console.print(f"kmslab lab: all {total} steps passed in {run.seconds:.1f} s", highlight=False)
    else:
        for failure in report.failures:
            console.print(
                f"kmslab lab: step {failure.name} failed: "
                f"{escape(failure.step.title)}: {escape(failure.failure or '')}",
                highlight=False,
            )
        if report.not_run:
            console.print(f"kmslab lab: {len(report.not_run)} later step(s) not run", highlight=False)
        console.print(f"kmslab lab: {passed} of {total} steps passed in {run.seconds:.1f} s", highlight=False)
    if run.report_file is not None:
        console.print(f"kmslab lab: report: {run.report_file}", highlight=False, soft_wrap=True)
