"""``kmslab lab``: the guide's chapters, run step by step against a local cloud with the kit deployed."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


class LabCommandError(click.ClickException):
    """The lab could not run (one line, exit status 2)."""

    exit_code = 2


@click.group(context_settings=_CONTEXT)
def lab() -> None:
    """Run the guide's chapters against a local cloud with the kit deployed (no AWS account needed).

    \b
    Examples:
      kmslab lab run
      kmslab lab run --list
      kmslab lab run --chapter 5 --chapter 9
      kmslab lab run --step 5.3 --pause
      kmslab lab run --keep
    """


@lab.command(context_settings=_CONTEXT)
@click.option(
    "--chapter",
    "-c",
    "chapters",
    type=int,
    multiple=True,
    metavar="N",
    help="Run chapter N of the guide (2-12; repeatable); chapters it builds on run too. Default: every chapter.",
)
@click.option(
    "--step",
    "steps",
    multiple=True,
    metavar="N.M",
    help="Run step N.M (repeatable), with the earlier steps of its chapter that it builds on.",
)
@click.option("--list", "list_only", is_flag=True, help="List the chapters and their steps; run nothing.")
@click.option("--pause", is_flag=True, help="Wait for Enter between steps.")
@click.option(
    "--keep",
    is_flag=True,
    help="Leave the local cloud running afterwards (in the background) and print how to continue by hand.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=".lab",
    show_default=True,
    help="The local cloud's data directory; emptied at the start of each run.",
)
@click.option(
    "--app", default="cdk.out", show_default=True, help="The kit's cloud assembly (synthesized first if needed)."
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False),
    default="lab-report",
    show_default=True,
    help="Where the report (index.html) goes.",
)
def run(
    chapters: tuple[int, ...],
    steps: tuple[str, ...],
    list_only: bool,
    pause: bool,
    keep: bool,
    data_dir: str,
    app: str,
    report_dir: str,
) -> None:
    """Start a local cloud, deploy the kit, and run the guide's steps through boto3, one line per step.

    The cloud runs on a free port in --data-dir; the kit is deployed from --app (synthesized with the
    pinned CDK CLI when missing or older than the sources, as 'kmslab local deploy' does). Each step
    signs as a workshop identity: admin, alice (the kit's kmslab-key-user role), auditor (the kit's
    kmslab-auditor role) or bob (no KMS permission), checks that the cloud answered as AWS does, and
    prints its outcome; after each chapter the guide's checkpoint ('kmslab check N') runs when it
    has one. At the end the report (a timeline of the KMS calls per key, the alert e-mail, the
    named queries' tables) is written to --report-dir/index.html and the cloud is stopped, unless
    --keep. Exits 0 when every step passed, 1 when one did not (it is named), 2 on a usage error.

    \b
    Examples:
      make lab
      kmslab lab run --chapter 9
      kmslab lab run --step 5.3 --keep
    """
    from rich.console import Console

    from kmslab.lab import _runner

    try:
        selection = _runner.select(chapters, steps)
    except _runner.UnknownChapterError as exc:
        raise click.BadParameter(
            str(exc), param_hint="--step" if steps and "step" in str(exc) else "--chapter"
        ) from None
    console = Console(highlight=False, soft_wrap=True)
    if list_only:
        for chapter in selection.chapters:
            console.print(f"{chapter.number}. {chapter.title}  (workshop/{chapter.guide})", markup=False)
            for number, step in selection.steps_of(chapter):
                console.print(f"   {chapter.number}.{number} {step.title}", markup=False)
        return
    asked = set(chapters) | {int(s.split(".")[0]) for s in steps}
    added = sorted({c.number for c in selection.chapters} - asked) if asked else []
    if added:
        console.print(
            f"kmslab lab: also running chapter(s) {', '.join(map(str, added))}, which the chosen ones build on"
        )
    options = _runner.RunOptions(
        data_dir=Path(data_dir),
        app=Path(app),
        root=Path.cwd(),
        report_dir=Path(report_dir),
        pause=pause,
        keep=keep,
    )
    if keep:
        _run_kept(selection, options, console)
        return
    status = _run(selection, options, console)
    if status:
        click.get_current_context().exit(status)


def _run(selection: Any, options: Any, console: Any) -> int:
    from kmslab.lab import _cloud, _runner

    try:
        outcome = _runner.run_lab(selection, options, console)
    except _cloud.LabCloudError as exc:
        raise LabCommandError(str(exc)) from None
    _runner.summarise(outcome, console)
    if options.keep:
        _continue_lines(options, outcome, console)
        _serve_until_stopped(outcome.lab)
    return 0 if outcome.report.passed else 1


def _continue_lines(options: Any, outcome: Any, console: Any) -> None:
    data = shlex.quote(str(options.data_dir))
    console.print(
        f"kmslab lab: the local cloud keeps running at {outcome.lab.url} (data {options.data_dir})", markup=False
    )
    console.print("kmslab lab: continue by hand:", markup=False)
    console.print(f'  eval "$(kmslab local env --data-dir {data} --as admin)"', markup=False)
    console.print(f"  kmslab local profiles --data-dir {data} && export AWS_PROFILE=admin", markup=False)
    console.print(f"  kmslab local down --data-dir {data}    # when you are done", markup=False)


def _run_kept(selection: Any, options: Any, console: Any) -> None:
    """Run in a child process that keeps serving the cloud after the run; this process exits with the run's status.

    The child is forked before any thread starts, so it shares this terminal (Rich's progress,
    ``--pause``'s Enter) during the run; afterwards it leaves the terminal's session and serves
    until ``kmslab local down --data-dir DIR`` (SIGTERM). Where fork is not possible (threads already
    running, no ``os.fork``), the run keeps the cloud in the foreground until Ctrl-C instead.
    """
    if not hasattr(os, "fork") or threading.active_count() > 1:
        console.print("kmslab lab: --keep serves the cloud in the foreground after the run: Ctrl-C stops it")
        sys.exit(_run(selection, options, console))
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: run, report the status, then serve in the background
        os.close(read_end)
        status = 2
        try:
            status = _run_child(selection, options, console, write_end)
        except click.ClickException as exc:
            click.echo(f"kmslab: error: {exc.format_message()}", err=True)
            status = exc.exit_code
        except BaseException as exc:  # the child must never leave with a traceback, nor return into the parent's code
            click.echo(f"kmslab: error: {type(exc).__name__}: {exc}", err=True)
            status = 2
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        got = pipe.read(1)
    sys.exit(got[0] if got else 2)


def _run_child(selection: Any, options: Any, console: Any, write_end: int) -> int:
    from kmslab.lab import _cloud, _runner

    try:
        outcome = _runner.run_lab(selection, options, console)
    except _cloud.LabCloudError as exc:
        raise LabCommandError(str(exc)) from None
    _runner.summarise(outcome, console)
    _continue_lines(options, outcome, console)
    status = 0 if outcome.report.passed else 1
    sys.stdout.flush()
    sys.stderr.flush()
    os.setsid()  # leave the terminal's session: closing the shell does not stop the cloud
    log = os.open(options.data_dir / "local.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.write(write_end, bytes([status]))
    os.close(write_end)
    _serve_until_stopped(outcome.lab)
    return status


def _serve_until_stopped(lab: Any) -> None:
    """Serve until SIGTERM (``kmslab local down``) or SIGINT, then stop the cloud."""
    wake = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: wake.set())
    try:
        wake.wait()
    finally:
        lab.stop()
