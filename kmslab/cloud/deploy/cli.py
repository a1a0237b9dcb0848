"""``kmslab local deploy|destroy|outputs|resources``: the synthesized kit in the running local cloud.

The commands join the ``kmslab local`` group (see :mod:`kmslab.cloud.cli`) and take its
``--data-dir`` and ``--port``. They deploy as an identity of the local cloud (``admin`` unless
``--as`` says otherwise), through the services' own APIs, so their checks apply as on AWS.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from kmslab.cloud.config import DATA_DIR_ENV, DEFAULT_DATA_DIR, DEFAULT_PORT, PORT_ENV, CloudConfig
from kmslab.cloud.deploy.assembly import Assembly
from kmslab.cloud.deploy.engine import Deployer
from kmslab.cloud.deploy.run import Connection, deploy, environment, event_line, needs_synth, synthesize, table
from kmslab.cloud.deploy.state import StackRecord, StackStore
from kmslab.cloud.deploy.types import default_registry

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


def _ROOT() -> Path:  # noqa: N802 - a module constant in spirit, a function so tests can patch it
    """The kit's project folder: the working directory when it holds ``cdk.json``, else the installed kit's.

    A learner follows the guide in a scratch folder of their own; ``kmslab local deploy`` there still finds the
    kit's CDK app (``app.py``, ``cdk.json``, ``node_modules``) in the checkout kmslab is installed from.
    """
    cwd = Path.cwd()
    if (cwd / "cdk.json").is_file():
        return cwd
    kit = Path(__file__).resolve().parents[3]
    return kit if (kit / "cdk.json").is_file() and (kit / "app.py").is_file() else cwd


class DeployCommandError(click.ClickException):
    """A deploy command failed (one line, exit status 2)."""

    exit_code = 2


def _common(func: Any) -> Any:
    func = click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        default=DEFAULT_DATA_DIR,
        envvar=DATA_DIR_ENV,
        show_default=True,
        help="The local cloud's data directory.",
    )(func)
    func = click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=DEFAULT_PORT,
        envvar=PORT_ENV,
        show_default=True,
        help="Its port.",
    )(func)
    return click.option(
        "--as", "who", default="admin", show_default=True, help="The identity of the local cloud that deploys."
    )(func)


def _stack_names(values: tuple[str, ...]) -> list[str]:
    return [name for value in values for name in value.replace(",", " ").split() if name]


def connection(data_dir: str, port: int, who: str) -> Connection:
    """How to reach the running local cloud as ``who``.

    Raises:
        DeployCommandError: No local cloud runs on the data dir, or it has no such identity.
    """
    from kmslab.cloud import daemon

    config = CloudConfig(data_dir=Path(data_dir), port=port)
    state = daemon.read_state(config)
    if state is None:
        raise DeployCommandError(f"no local cloud runs on {data_dir}: start it with 'kmslab local up --detach'")
    path = Path(state.get("identities") or config.identities_file)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DeployCommandError(f"cannot read the identities file {path}: {exc}") from None
    for item in data.get("identities", []):
        if item.get("arn") == who or str(item.get("arn", "")).rsplit("/", 1)[-1] == who:
            return Connection(
                endpoint_url=str(state["url"]),
                region=str(state.get("region", "us-east-1")),
                account=str(data.get("account", "111122223333")),
                access_key_id=str(item["access_key_id"]),
                secret_access_key=str(item["secret_access_key"]),
                ca_bundle=state.get("ca") or None,
            )
    raise DeployCommandError(f"the local cloud has no identity named {who!r}")


def _store(data_dir: str) -> StackStore:
    return StackStore(Path(data_dir) / "cloudformation")


@click.command(context_settings=_CONTEXT)
@click.option(
    "--app",
    default="cdk.out",
    show_default=True,
    help="The cloud assembly (synthesized if needed); outside the kit, the kit's own unless one is here.",
)
@click.option("--stacks", "stacks", multiple=True, metavar="NAME…", help="Only these stacks (repeat, or commas).")
@click.option("-c", "--context", "context", multiple=True, metavar="NAME=VALUE", help="CDK context, as for cdk synth.")
@click.option(
    "--types", "types_only", is_flag=True, help="Print how each resource type of the kit is served, and exit."
)
@_common
def deploy_command(
    app: str, stacks: tuple[str, ...], context: tuple[str, ...], types_only: bool, data_dir: str, port: int, who: str
) -> None:
    """Deploy the synthesized kit into the running local cloud, one progress line per resource.

    \b
    Examples:
      kmslab local up --detach && kmslab local deploy
      kmslab local deploy --stacks KmslabKeys,KmslabStorage
      kmslab local deploy -c on_use=cancel
      kmslab local deploy --types
    """
    settings = {}
    for item in context:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="-c")
        settings[name] = value
    root, app_dir = _ROOT(), Path(app)
    if not app_dir.is_absolute() and not (app_dir / "manifest.json").is_file() and root != Path.cwd():
        app_dir = root / app  # outside the kit, with no assembly here: the kit's own
    if needs_synth(app_dir, root, settings):
        click.echo(f"synthesizing {app_dir} (npx cdk synth)…")
        started = time.monotonic()
        synthesize(app_dir, root, settings)
        click.echo(f"synthesized in {time.monotonic() - started:.1f}s")
    assembly = Assembly.read(app_dir)
    registry = default_registry()
    if types_only:
        kinds = [r.type for s in assembly.stacks for r in s.template().resources.values()]
        for line in table(registry.table(kinds), ("resource type", "served", "how")):
            click.echo(line)
        return
    names = _stack_names(stacks)
    assembly.select(names)  # an unknown stack name is refused before anything else
    conn = connection(data_dir, port, who)
    started = time.monotonic()
    deploy(
        assembly,
        names,
        conn=conn,
        store=_store(data_dir),
        registry=registry,
        root=root,
        echo=click.echo,
    )
    click.echo(f"deployed in {time.monotonic() - started:.2f}s")


@click.command(context_settings=_CONTEXT)
@click.option("--stacks", "stacks", multiple=True, metavar="NAME…", help="Only these stacks (repeat, or commas).")
@_common
def destroy_command(stacks: tuple[str, ...], data_dir: str, port: int, who: str) -> None:
    """Delete the deployed stacks (consumers first); retained resources stay, keys wait out their window.

    \b
    Example:
      kmslab local destroy
    """
    store = _store(data_dir)
    deployed = list(store.all())
    wanted = set(_stack_names(stacks))
    unknown = wanted - {r.name for r in deployed}
    if unknown:
        raise DeployCommandError(f"no deployed stack named {sorted(unknown)[0]}")
    env = environment(connection(data_dir, port, who))
    deployer = Deployer(store, default_registry(), env, on_event=lambda e: click.echo(event_line(e)))
    for record in _consumers_first([r for r in deployed if not wanted or r.name in wanted], store):
        deployer.destroy(record.name, region=record.region)
    for record in deployed:
        for res in record.resources.values():
            if res.deletion_policy.startswith("Retain") and (not wanted or record.name in wanted):
                click.echo(f"retained: {res.type} {res.physical_id} ({record.name}/{res.logical_id})")


def _consumers_first(records: list[StackRecord], store: StackStore) -> list[StackRecord]:
    """Stacks in an order where each comes before the stacks it imports exports from or was deployed after."""
    exporter: dict[str, str] = {}
    for record in records:
        for output in record.outputs.values():
            if output.get("export"):
                exporter[output["export"]] = record.name
    remaining = {r.name: r for r in records}
    order: list[StackRecord] = []
    while remaining:
        used = {exporter.get(name) for r in remaining.values() for name in r.imports}
        used |= {name for r in remaining.values() for name in r.dependencies}
        free = [r for name, r in remaining.items() if name not in used] or list(remaining.values())
        for record in free:
            order.append(remaining.pop(record.name))
    return order


@click.command(context_settings=_CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--data-dir", type=click.Path(file_okay=False), default=DEFAULT_DATA_DIR, envvar=DATA_DIR_ENV, show_default=True
)
def outputs_command(as_json: bool, data_dir: str) -> None:
    """Show the deployed stacks' outputs."""
    found = {r.name: {k: v["value"] for k, v in r.outputs.items()} for r in _store(data_dir).all()}
    if as_json:
        click.echo(json.dumps(found, indent=2, sort_keys=True))
        return
    rows = [(stack, name, value) for stack, outs in found.items() for name, value in sorted(outs.items())]
    for line in table(rows, ("stack", "output", "value")):
        click.echo(line)


@click.command(context_settings=_CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--data-dir", type=click.Path(file_okay=False), default=DEFAULT_DATA_DIR, envvar=DATA_DIR_ENV, show_default=True
)
def resources_command(as_json: bool, data_dir: str) -> None:
    """Show the deployed resources and their physical IDs."""
    rows = [
        (r.name, res.logical_id, res.type, res.physical_id)
        for r in _store(data_dir).all()
        for res in r.resources.values()
    ]
    if as_json:
        click.echo(
            json.dumps(
                [dict(zip(("stack", "logical_id", "type", "physical_id"), row, strict=True)) for row in rows], indent=2
            )
        )
        return
    for line in table(rows, ("stack", "logical id", "type", "physical id")):
        click.echo(line)


def register(group: click.Group) -> None:
    """Add the deploy commands to the ``kmslab local`` group."""
    group.add_command(deploy_command, "deploy")
    group.add_command(destroy_command, "destroy")
    group.add_command(outputs_command, "outputs")
    group.add_command(resources_command, "resources")
