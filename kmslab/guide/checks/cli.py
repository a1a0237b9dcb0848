"""``kmslab check N``: what of chapter N is done, and what is missing."""

from __future__ import annotations

import click

from kmslab.guide.checks import CheckEnv, chapters

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


@click.command(context_settings=_CONTEXT)
@click.argument("chapter", type=int)
@click.option("--profile", help="The AWS CLI profile to look with (default: AWS_PROFILE or the environment).")
@click.option("--region", help="The Region (default: the profile's).")
def check(chapter: int, profile: str | None, region: str | None) -> None:
    """Check chapter CHAPTER of the guide against your own state (your AWS account, or the local cloud).

    Prints one line per step (✓ done, ✗ missing with a hint) and exits 0 when every step is done, 1 otherwise.

    \b
    Examples:
      kmslab check 5
      kmslab check 2 --profile admin
    """
    known = chapters()
    if chapter not in known:
        numbers = ", ".join(str(n) for n in known) or "none yet"
        raise click.UsageError(f"chapter {chapter} has no checkpoint (chapters with one: {numbers})")
    found = known[chapter]
    click.echo(f"Chapter {found.number}: {found.title}")
    done = 0
    for finding in found.run(CheckEnv(profile=profile, region=region)):
        done += finding.ok
        mark = "✓" if finding.ok else "✗"
        click.echo(f"  {mark} {finding.text}" + ("" if finding.ok else f": {finding.hint}"))
    click.echo(f"{done} of {len(found.checks)} done")
    if done < len(found.checks):
        raise click.exceptions.Exit(1)
