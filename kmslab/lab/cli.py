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
      kmslab lab run --data-dir /tmp/lab --keep
    """


@lab.command(context_settings=_CONTEXT)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, writable=True),
    default=None,
    help="Where the local KMS keeps its keys (default: a fresh temporary directory).",
)
@click.option("--keep", is_flag=True, help="Keep the temporary data directory afterwards.")
def run(data_dir: str | None, keep: bool) -> None:
    """Start a local KMS on a free port and run every lab step through boto3 over HTTP.

    Each step prints a numbered heading, what it proves and the real response fields (never key
    material; ciphertext as its length and a short prefix). Exits 0 when every expectation held,
    1 when a step did not behave as AWS KMS does (the failing step is named).

    \b
    Examples:
      kmslab lab run
      make lab
    """
    from kmslab.lab import run_lab

    report = run_lab(data_dir, keep=keep, emit=click.echo)
    if not report.passed:
        click.get_current_context().exit(1)
