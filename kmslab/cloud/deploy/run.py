"""``kmslab local deploy`` end to end: synthesize if needed, bootstrap, deploy each stack, report.

This module turns a running local cloud (its endpoint and an identity's credentials) into the
engine's :class:`~kmslab.cloud.deploy.engine.Environment`, and prints what CloudFormation's console
and ``cdk deploy`` print: one line per resource event, each stack's time, its outputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kmslab.cloud.deploy.assembly import Assembly
from kmslab.cloud.deploy.bootstrap import bootstrap, bootstrap_version, public_parameter
from kmslab.cloud.deploy.engine import Deployer, Environment, StackEvent
from kmslab.cloud.deploy.errors import AssemblyError
from kmslab.cloud.deploy.resources import Registry
from kmslab.cloud.deploy.state import StackRecord, StackStore

#: what a change to these means: the assembly must be synthesized again
_SOURCES = ("app.py", "cdk.json", "stacks", "lambda", "kmslab/trail/patterns.py", "kmslab/audit")


@dataclass(frozen=True)
class Connection:
    """How to reach the local cloud as one identity."""

    endpoint_url: str
    region: str
    account: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    ca_bundle: str | None = None


def environment(conn: Connection, assembly: Assembly | None = None) -> Environment:
    """The engine's view of the local cloud: clients per service and Region, and SSM parameter values.

    Args:
        conn: The endpoint and credentials.
        assembly: The assembly whose assets Lambda code comes from.

    Returns:
        The environment.
    """
    import boto3  # noqa: PLC0415 - only deploys need the SDK; ``kmslab local --help`` stays quick
    from botocore.config import Config  # noqa: PLC0415

    session = boto3.Session(
        aws_access_key_id=conn.access_key_id,
        aws_secret_access_key=conn.secret_access_key,
        aws_session_token=conn.session_token,
    )
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60)
    clients: dict[tuple[str, str], Any] = {}

    def client(service: str, region: str) -> Any:
        key = (service, region)
        if key not in clients:
            verify: bool | str = conn.ca_bundle if conn.ca_bundle else True
            clients[key] = session.client(
                service, region_name=region, endpoint_url=conn.endpoint_url, verify=verify, config=config
            )
        return clients[key]

    def ssm_parameter(name: str, region: str) -> str:
        ssm = client("ssm", region)
        try:
            return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except ssm.exceptions.ParameterNotFound:
            return public_parameter(client("lambda", region), name)

    return Environment(
        account=conn.account,
        region=conn.region,
        client=client,
        ssm_parameter=ssm_parameter,
        asset=(assembly.asset if assembly is not None else (lambda key: None)),
    )


def needs_synth(app: Path, root: Path, context: Mapping[str, str]) -> bool:
    """Whether the assembly is missing, older than the kit's sources, or asked for with other context.

    Args:
        app: The assembly directory.
        root: The project root.
        context: ``-c name=value`` settings given on the command line.

    Returns:
        True when ``cdk synth`` must run.
    """
    manifest = app / "manifest.json"
    if context or not manifest.is_file():
        return True
    built = manifest.stat().st_mtime
    for name in _SOURCES:
        path = root / name
        files = path.rglob("*") if path.is_dir() else [path]
        if any(f.is_file() and f.stat().st_mtime > built for f in files if "__pycache__" not in f.parts):
            return True
    return False


def synthesize(app: Path, root: Path, context: Mapping[str, str]) -> None:
    """Run the pinned CDK CLI's ``cdk synth`` into ``app``, with the same context as on the command line.

    Raises:
        AssemblyError: The CLI is missing or the synth failed (its last lines are in the message).
    """
    npx = shutil.which("npx")
    if npx is None:
        raise AssemblyError("npx is not installed: Node.js 18+ with npm is needed to synthesize (or pass --app)")
    args = [npx, "cdk", "synth", "--quiet", "--output", str(app)]
    for name, value in context.items():
        args += ["--context", f"{name}={value}"]
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}"}
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    done = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise AssemblyError(f"cdk synth failed: {tail}")


def deploy(
    assembly: Assembly,
    names: Iterable[str] | None,
    *,
    conn: Connection,
    store: StackStore,
    registry: Registry,
    root: Path,
    echo: Callable[[str], None],
) -> list[StackRecord]:
    """Deploy the selected stacks in dependency order, printing progress.

    Args:
        assembly: The synthesized kit.
        names: Stack names (all when empty).
        conn: The local cloud, as the deploying identity.
        store: Where stack records are kept.
        registry: The resource handlers.
        root: The project root (for the pinned CLI's bootstrap version).
        echo: Where lines go.

    Returns:
        The stacks' records.
    """
    env = environment(conn, assembly)
    stacks = assembly.select(names)
    version = bootstrap_version(root)
    for region in sorted({s.region for s in stacks}):
        made = bootstrap(env.client("ssm", region), version=version)
        if made:
            echo(f"bootstrap ({region}): {made}")
    deployer = Deployer(store, registry, env, on_event=lambda e: echo(event_line(e)))
    records = []
    for stack in stacks:
        started = time.monotonic()
        record = deployer.deploy(stack.name, stack.template(), region=stack.region, dependencies=stack.dependencies)
        echo(f" ✅  {stack.name} ({stack.region}): {record.status} in {time.monotonic() - started:.2f}s")
        for name, output in sorted(record.outputs.items()):
            echo(f"     {stack.name}.{name} = {output['value']}")
        records.append(record)
    return records


def event_line(event: StackEvent) -> str:
    """One progress line, as ``cdk deploy`` prints a stack event."""
    clock = event.timestamp.strftime("%H:%M:%S")
    line = f"{event.stack} | {clock} | {event.status:<20} | {event.resource_type:<30} | {event.logical_id}"
    return f"{line} {event.reason}".rstrip() if event.reason else line


def table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    """Fixed-width text columns."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
