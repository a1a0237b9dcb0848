"""``kmslab lab``: the offline lab, narrated, against a local KMS endpoint."""

from __future__ import annotations

import click

_CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group(context_settings=_CONTEXT)
def lab() -> None:
    """Run the offline lab: AWS KMS semantics shown step by step, no AWS account needed.

    \b
    Examples:
      kmslab lab run
      kmslab lab run --list
      kmslab lab run --chapter 3 --chapter 8
      kmslab lab run --data-dir /tmp/lab
    """


@lab.command(context_settings=_CONTEXT)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, writable=True),
    default=None,
    help="The lab directory: keys (kms/), CloudTrail files (trail/, emptied at each run), identities.json "
    "and work files. Default: a fresh temporary directory, removed afterwards.",
)
@click.option("--keep", is_flag=True, help="Keep the temporary lab directory afterwards.")
@click.option(
    "--chapter",
    "-c",
    "chapters",
    type=int,
    multiple=True,
    metavar="N",
    help="Run only chapter N (repeatable); chapters it builds on run too. Default: every chapter.",
)
@click.option("--list", "list_only", is_flag=True, help="List the chapters and their steps, run nothing.")
def run(data_dir: str | None, keep: bool, chapters: tuple[int, ...], list_only: bool) -> None:
    """Start a local KMS on a free port and run the lab's steps through boto3 over HTTP.

    The endpoint records CloudTrail and checks SigV4 signatures: each step signs as the account's
    root user, Alice (a key user) or Bob (nobody). Each step prints a numbered heading, what it
    proves and the real response fields (never key material; ciphertext as its length and a short
    prefix). Exits 0 when every expectation held, 1 when a step did not behave as AWS KMS does
    (the failing step is named).

    \b
    Examples:
      kmslab lab run
      kmslab lab run --chapter 4
      make lab
    """
    from kmslab.lab import _runner

    try:
        selected = _runner.select_chapters(chapters, _runner.CHAPTERS) if chapters else _runner.CHAPTERS
    except _runner.UnknownChapterError as exc:
        raise click.BadParameter(str(exc), param_hint="--chapter") from None
    if list_only:
        for chapter in selected:
            guide = f"  (workshop/{chapter.guide})" if chapter.guide else ""
            click.echo(f"{chapter.number}. {chapter.title}{guide}")
            for number, step in enumerate(chapter.steps, start=1):
                click.echo(f"   {chapter.number}.{number} {step.title}")
        return
    added = sorted({c.number for c in selected} - set(chapters)) if chapters else []
    if added:
        click.echo(f"kmslab lab: also running chapter(s) {', '.join(map(str, added))}, which the chosen ones build on")
    report = _runner.run_lab(data_dir, keep=keep, emit=click.echo, chapters=selected)
    if not report.passed:
        click.get_current_context().exit(1)
