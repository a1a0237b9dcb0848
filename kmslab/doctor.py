"""Preflight for a real deploy: does the account have what the synthesized templates need?

``kmslab doctor --aws`` reads ``cdk.out/`` (``make synth`` writes it) and, with AWS credentials, checks:

* the credentials' account is the one the stacks target;
* every SSM parameter a template resolves at deploy time (its ``AWS::SSM::Parameter::Value<...>``
  parameters, such as the Powertools layer ARN) exists in that stack's Region;
* the CDK bootstrap in each target Region is at least the version the stacks require (the manifest's
  ``requiresBootstrapStackVersion``, read from ``bootstrapStackVersionSsmParameter``).

It prints one line per check. Without ``--aws`` it only lists what it would check (offline).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from kmslab.errors import KmslabError

__all__ = ["Check", "DoctorError", "Result", "doctor", "plan", "run"]

_SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value<"
#: The bootstrap parameter also appears among a template's parameters; it is checked as a version instead.
_BOOTSTRAP_PARAMETER = "BootstrapVersion"


class DoctorError(KmslabError):
    """The cloud assembly is missing or unreadable."""


@dataclass(frozen=True)
class Check:
    """One thing a deploy needs.

    Attributes:
        kind: ``account``, ``ssm`` or ``bootstrap``.
        region: The Region it is checked in (empty for ``account``).
        name: The SSM parameter name (``ssm``, ``bootstrap``) or the target account (``account``).
        minimum: The least bootstrap version (``bootstrap`` only).
        stacks: The stacks that need it.
    """

    kind: str
    region: str
    name: str
    minimum: int = 0
    stacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    """The outcome of one check.

    Attributes:
        check: The check.
        ok: Whether the account has what the check needs.
        detail: What was found, in a few words.
    """

    check: Check
    ok: bool
    detail: str

    def line(self) -> str:
        """The one line printed for this result."""
        c = self.check
        where = f"{c.region:<14} " if c.region else ""
        return f"{'ok  ' if self.ok else 'FAIL'}  {c.kind:<9} {where}{c.name}: {self.detail}"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DoctorError(f"{path} not found: run 'make synth' first") from None
    except (OSError, ValueError) as exc:
        raise DoctorError(f"cannot read {path}: {' '.join(str(exc).split())}") from None


def _stacks(cdk_out: Path) -> Iterator[tuple[str, str, str, dict[str, Any], dict[str, Any]]]:
    manifest = _read_json(cdk_out / "manifest.json")
    for name, artifact in sorted(manifest.get("artifacts", {}).items()):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        account, _, region = str(artifact.get("environment", "")).removeprefix("aws://").partition("/")
        properties = artifact.get("properties", {})
        template_file = properties.get("templateFile")
        if not isinstance(template_file, str):
            raise DoctorError(f"{cdk_out / 'manifest.json'}: stack {name} names no template file")
        template = _read_json(cdk_out / template_file)
        yield name, account, region, properties, template


def plan(cdk_out: Path) -> list[Check]:
    """Every check the synthesized stacks call for, one per account, Region and parameter.

    Args:
        cdk_out: The cloud assembly directory.

    Returns:
        The checks, accounts first, then per Region the bootstrap and the SSM parameters.

    Raises:
        DoctorError: No readable cloud assembly.
    """
    found: dict[tuple[str, str, str], Check] = {}

    def add(check: Check) -> None:
        key = (check.kind, check.region, check.name)
        old = found.get(key)
        if old is not None:
            check = Check(
                check.kind,
                check.region,
                check.name,
                max(old.minimum, check.minimum),
                tuple(sorted({*old.stacks, *check.stacks})),
            )
        found[key] = check

    for stack, account, region, properties, template in _stacks(cdk_out):
        add(Check("account", "", account, stacks=(stack,)))
        version_parameter = properties.get("bootstrapStackVersionSsmParameter")
        if version_parameter:
            minimum = int(properties.get("requiresBootstrapStackVersion", 0))
            add(Check("bootstrap", region, version_parameter, minimum, (stack,)))
        for logical_id, parameter in template.get("Parameters", {}).items():
            if logical_id == _BOOTSTRAP_PARAMETER or not str(parameter.get("Type", "")).startswith(_SSM_PARAMETER_TYPE):
                continue
            add(Check("ssm", region, str(parameter["Default"]), stacks=(stack,)))
    order = {"account": 0, "bootstrap": 1, "ssm": 2}
    return sorted(found.values(), key=lambda c: (order[c.kind], c.region, c.name))


def run(checks: Iterable[Check], session: Any) -> list[Result]:
    """Run the checks against AWS with a boto3 session.

    Args:
        checks: What :func:`plan` returned.
        session: A ``boto3.Session`` with credentials.

    Returns:
        One result per check.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    results: list[Result] = []
    account = session.client("sts").get_caller_identity()["Account"]
    for check in checks:
        if check.kind == "account":
            ok = check.name == account
            detail = "the credentials' account" if ok else f"the credentials are for account {account}"
            results.append(Result(check, ok, detail))
            continue
        try:
            value = session.client("ssm", region_name=check.region).get_parameter(Name=check.name)["Parameter"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Error")
            hint = " (run 'npx cdk bootstrap')" if check.kind == "bootstrap" and code == "ParameterNotFound" else ""
            results.append(Result(check, False, f"{code}{hint}"))
            continue
        except BotoCoreError as exc:
            results.append(Result(check, False, " ".join(str(exc).split())))
            continue
        if check.kind == "bootstrap":
            text = str(value.get("Value", ""))
            version = int(text) if text.isdigit() else -1
            ok = version >= check.minimum
            hint = "" if ok else "; run 'npx cdk bootstrap'"
            results.append(Result(check, ok, f"version {text}, the stacks need {check.minimum} or later{hint}"))
        else:
            results.append(Result(check, True, "exists"))
    return results


def _has_credentials(session: Any) -> bool:
    from botocore.exceptions import BotoCoreError

    try:
        return session.get_credentials() is not None
    except BotoCoreError:  # a broken profile or credential source: no usable credentials
        return False


@click.command("doctor")
@click.option("--aws", "use_aws", is_flag=True, help="Check the AWS account (needs credentials).")
@click.option(
    "--cdk-out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("cdk.out"),
    show_default=True,
    help="The synthesized cloud assembly.",
)
@click.option("--profile", default=None, help="AWS profile (default: the usual credential chain).")
def doctor(use_aws: bool, cdk_out: Path, profile: str | None) -> None:
    """Check, before a deploy, that the account has every SSM parameter and bootstrap the templates need."""
    checks = plan(cdk_out)
    if not use_aws:
        for check in checks:
            where = f"{check.region} " if check.region else ""
            click.echo(f"would check  {check.kind:<9} {where}{check.name}")
        click.echo("kmslab doctor: add --aws to check these against your account")
        return
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        session = boto3.Session(profile_name=profile)
    except BotoCoreError as exc:
        raise click.ClickException(" ".join(str(exc).split())) from None
    if not _has_credentials(session):
        click.echo("kmslab doctor: no AWS credentials found (configure a profile or AWS_* variables)", err=True)
        raise SystemExit(2)
    try:
        results = run(checks, session)
    except (BotoCoreError, ClientError) as exc:
        raise click.ClickException(f"cannot reach AWS: {' '.join(str(exc).split())}") from None
    for result in results:
        click.echo(result.line())
    failed = sum(not r.ok for r in results)
    click.echo(f"kmslab doctor: {len(results) - failed} of {len(results)} checks passed")
    if failed:
        raise SystemExit(1)
