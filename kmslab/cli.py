"""The ``kmslab`` command line.

Each package owns its command group in its own ``cli`` module; this module only
mounts them, lazily, so ``kmslab --help`` and every command start fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from kmslab import __version__
from kmslab.errors import KmslabError

#: command name -> (module, attribute, one-line help shown by ``kmslab --help``)
_GROUPS: dict[str, tuple[str, str, str]] = {
    "kms": ("kmslab.kms.cli", "kms", "Run and control the local KMS endpoint."),
    "envelope": ("kmslab.envelope.cli", "envelope", "Encrypt and decrypt files with KMS data keys."),
    "audit": ("kmslab.audit.cli", "audit", "Query CloudTrail records of KMS calls offline."),
    "check": ("kmslab.guide.checks.cli", "check", "Check a chapter of the guide against your own state."),
    "lab": ("kmslab.lab.cli", "lab", "Run the guide's chapters against a local cloud with the kit deployed."),
    "doctor": ("kmslab.doctor", "doctor", "Check an AWS account before deploying the stacks (--aws)."),
    "local": ("kmslab.cloud.cli", "local", "Run the local cloud: every service the kit uses on one endpoint."),
}


class _LazyGroup(click.Group):
    """A group whose subcommands are imported only when they are used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_GROUPS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _GROUPS.get(cmd_name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        command = getattr(module, target[1])
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, _GROUPS[name][2]) for name in self.list_commands(ctx)])


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kmslab")
def cli() -> None:
    """kmslab: learn and prove AWS KMS, on AWS or fully offline."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI, turning expected errors into one line and exit status 2.

    Args:
        argv: the arguments; ``sys.argv[1:]`` when None.

    Returns:
        The exit status (0 on success); failures exit directly.
    """
    try:
        status: Any = cli.main(args=argv, prog_name="kmslab", standalone_mode=False)
        return status if isinstance(status, int) else 0
    except click.exceptions.Abort:
        click.echo("kmslab: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:
        # A bare group (``kmslab``, ``kmslab kms``) is a request for help, not a mistake.
        click.echo(exc.ctx.get_help() if exc.ctx is not None else cli.get_help(click.Context(cli)))
        return 0
    except click.ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "kmslab"
        hint = f" (see '{where} --help')" if isinstance(exc, click.UsageError) else ""
        click.echo(f"{where}: error: {' '.join(exc.format_message().split())}{hint}", err=True)
        sys.exit(2 if exc.exit_code == 1 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("kmslab: interrupted", err=True)
        sys.exit(130)
    except (KmslabError, OSError) as exc:
        click.echo(f"kmslab: error: {_one_line(exc)}", err=True)
        sys.exit(2)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())
