"""``kmslab local``: run the local cloud (every service the kit uses behind one HTTPS endpoint)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import click

from kmslab.cloud._cli_common import (
    CONTEXT,
    LocalError,
    data_dir_option,
    identity_data,
    port_option,
)
from kmslab.cloud.config import DEFAULT_HOST, CloudConfig

_CONTEXT = CONTEXT
_data_dir_option = data_dir_option
_port_option = port_option
_identity_data = identity_data


@click.group(context_settings=_CONTEXT)
def local() -> None:
    """Run the local cloud: KMS, S3 with real SSE-KMS, STS, and the kit's other services on one endpoint.

    \b
    Examples:
      kmslab local up --detach
      eval "$(kmslab local env --as alice)"
      aws s3 mb s3://notes && aws s3 cp notes.txt s3://notes/ --sse aws:kms --sse-kms-key-id alias/notes
      kmslab local stats
      kmslab local down
    """


@local.command(context_settings=_CONTEXT)
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on (keep it on localhost).")
@_port_option
@_data_dir_option
@click.option(
    "--identities",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Identities file (users, roles) as for 'kmslab kms serve'; default: the workshop set in the data directory.",
)
@click.option("--detach", "-d", is_flag=True, help="Run in the background (pid file in the data directory).")
@click.option(
    "--http", "plain_http", is_flag=True, help="Serve plain HTTP instead of HTTPS (aws:SecureTransport false)."
)
@click.option("--region", default="us-east-1", show_default=True, help="Region of unsigned requests.")
@click.option("--verbose", "-v", is_flag=True, help="Log one line per request.")
def up(
    host: str,
    port: int,
    data_dir: str,
    identities: str | None,
    detach: bool,
    plain_http: bool,
    region: str,
    verbose: bool,
) -> None:
    """Start the local cloud (HTTPS with a CA made in the data directory), until Ctrl-C or 'kmslab local down'.

    \b
    Examples:
      kmslab local up
      kmslab local up --detach --port 0 --data-dir /tmp/cloud
      kmslab local up --http --identities identities.json
    """
    from kmslab.cloud import daemon

    config = CloudConfig(
        data_dir=Path(data_dir),
        host=host,
        port=port,
        tls=not plain_http,
        region=region,
        identities=Path(identities) if identities else None,
    )
    running = daemon.read_state(config)
    if running is not None:
        raise LocalError(f"a local cloud already runs on {data_dir} at {running['url']} (pid {running['pid']})")
    if detach:
        _detach(config, verbose)
        return
    _serve(config, verbose)


def _detach(config: CloudConfig, verbose: bool) -> None:
    from kmslab.cloud import daemon

    config.data_dir.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "kmslab", "local", "up", "--host", config.host, "--port", str(config.port)]
    args += ["--data-dir", str(config.data_dir), "--region", config.region]
    if config.identities is not None:
        args += ["--identities", str(config.identities)]
    if not config.tls:
        args.append("--http")
    if verbose:
        args.append("--verbose")
    log = (config.data_dir / "local.log").open("ab")
    child = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    log.close()
    try:
        state = daemon.wait_healthy(config, child.pid)
    except RuntimeError as exc:
        raise LocalError(f"{exc} (see {config.data_dir / 'local.log'})") from None
    click.echo(f"kmslab local: running at {state['url']} (pid {state['pid']}, data {config.data_dir})")
    click.echo(f'  eval "$(kmslab local env --data-dir {shlex.quote(str(config.data_dir))} --as alice)"')


def _serve(config: CloudConfig, verbose: bool) -> None:
    from kmslab.cloud import daemon
    from kmslab.cloud.local import build_cloud

    try:
        daemon.claim(config)
    except RuntimeError as exc:
        raise LocalError(str(exc)) from None
    try:
        try:
            cloud = build_cloud(config, verbose=verbose)
        except OSError as exc:
            raise LocalError(f"cannot serve on {config.host}:{config.port}: {exc.strerror or exc}") from None
        cloud.start()
        state = {
            "pid": os.getpid(),
            "url": cloud.url,
            "host": cloud.server.host,
            "port": cloud.server.port,
            "tls": config.tls,
            "ca": str(config.ca_file.resolve()) if config.tls else None,
            "region": config.region,
            "account": cloud.identities.account,
            "identities": str(config.identities_file.resolve()),
            "started": time.time(),
        }
        daemon.write_state(config, state)
        click.echo(
            f"kmslab local: serving account {cloud.identities.account} at {cloud.url} "
            f"(data {config.data_dir}); Ctrl-C stops"
        )
        wake = threading.Event()
        previous = {s: signal.signal(s, lambda *_: wake.set()) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            wake.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            cloud.stop()
    finally:
        daemon.release(config)
    click.echo("kmslab local: stopped", err=True)


@local.command(context_settings=_CONTEXT)
@_port_option
@_data_dir_option
def down(port: int, data_dir: str) -> None:
    """Stop the local cloud that runs on the data directory.

    \b
    Example:
      kmslab local down
    """
    from kmslab.cloud import daemon

    config = CloudConfig(data_dir=Path(data_dir), port=port)
    try:
        pid = daemon.stop(config)
    except TimeoutError as exc:
        raise LocalError(str(exc)) from None
    click.echo("kmslab local: not running" if pid is None else f"kmslab local: stopped (pid {pid})")


@local.command(context_settings=_CONTEXT)
@_port_option
@_data_dir_option
@click.pass_context
def status(ctx: click.Context, port: int, data_dir: str) -> None:
    """Say whether the local cloud runs, where, and which services keep state only in memory (exit 3 if not running).

    \b
    Example:
      kmslab local status
    """
    from kmslab.cloud import daemon

    config = CloudConfig(data_dir=Path(data_dir), port=port)
    state = daemon.read_state(config)
    if state is None:
        click.echo(f"kmslab local: not running (data {data_dir})")
        ctx.exit(3)
    assert state is not None
    try:
        health = daemon.fetch(state, "health")
    except OSError as exc:
        raise LocalError(f"pid {state['pid']} holds {data_dir} but {state['url']} does not answer: {exc}") from None
    click.echo(f"kmslab local: running at {state['url']} (pid {state['pid']}, account {health.get('account')})")
    click.echo(f"  services: {', '.join(health.get('services', []))}")
    click.echo(f"  persistent in {data_dir}: {', '.join(health.get('persistent', []))}")
    click.echo(f"  in memory only (lost on down): {', '.join(health.get('memory_only', []))}")


@local.command(context_settings=_CONTEXT)
@_data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the identities file as JSON (with secrets).")
def identities(data_dir: str, as_json: bool) -> None:
    """Show the identities that sign requests (the workshop set: admin, alice, bob, auditor, a key-user role).

    \b
    Examples:
      kmslab local identities
      kmslab local identities --json > identities.json
    """
    data = _identity_data(CloudConfig(data_dir=Path(data_dir)), create=True)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"account {data.get('account')}")
    for item in data.get("identities", []):
        names = [
            p.get("name", "policy") if isinstance(p, dict) and "document" in p else "policy"
            for p in item.get("policies", [])
        ]
        click.echo(
            f"  {str(item['arn']).rsplit('/', 1)[-1]:<10} {item['access_key_id']:<22} {item['arn']}  "
            f"[{', '.join(names)}]"
        )
    for role in data.get("roles", []):
        principals = [s.get("Principal") for s in role.get("trust_policy", {}).get("Statement", [])]
        click.echo(f"  role       {'':<22} {role['arn']}  trusted by {json.dumps(principals)}")


@local.command(context_settings=_CONTEXT)
@_port_option
@_data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the raw figures as JSON.")
def stats(port: int, data_dir: str, as_json: bool) -> None:
    """Show request counts per service, and the KMS calls S3 made (Bucket Keys cut them down).

    \b
    Example:
      kmslab local stats
    """
    from kmslab.cloud import daemon

    config = CloudConfig(data_dir=Path(data_dir), port=port)
    state = daemon.read_state(config)
    if state is None:
        raise LocalError(f"no local cloud runs on {data_dir}")
    try:
        figures = daemon.fetch(state, "stats")
    except OSError as exc:
        raise LocalError(f"{state['url']} does not answer: {exc}") from None
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    requests = figures.get("requests", {})
    click.echo("requests: " + (", ".join(f"{k} {v}" for k, v in sorted(requests.items())) or "none"))
    s3 = figures.get("s3", {})
    calls = s3.get("kms_calls", {})
    detail = ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))
    click.echo(f"S3 -> KMS calls: {s3.get('kms_calls_total', 0)}" + (f" ({detail})" if detail else ""))
    click.echo(f"S3 Bucket Key cache hits: {s3.get('bucket_key_cache_hits', 0)}")


@local.command(context_settings=_CONTEXT)
@click.argument("message_id", required=False)
@_port_option
@_data_dir_option
def mail(message_id: str | None, port: int, data_dir: str) -> None:
    """List the local mailbox (SNS e-mail subscriptions deliver there), or show one message as text.

    \b
    Examples:
      kmslab local mail
      kmslab local mail 20261202T174500123456-1a2b3c4d
    """
    from kmslab.cloud.alerts.mail import Mailbox

    box = Mailbox(CloudConfig(data_dir=Path(data_dir), port=port).data_dir / "mail")
    if message_id is not None:
        found = box.get(message_id)
        if found is None:
            raise LocalError(f"no single message {message_id!r} in {box.folder}")
        click.echo(found.as_text())
        return
    messages = box.list()
    if not messages:
        click.echo(f"kmslab local mail: no messages in {box.folder}")
    for item in messages:
        click.echo(f"{item.id}  {item.date}  {item.to}  {item.subject}")


def _register_commands() -> None:
    from kmslab.cloud._clock_cli import register as register_clock
    from kmslab.cloud._env_cli import register as register_env
    from kmslab.cloud._profiles_cli import register as register_profiles
    from kmslab.cloud.deploy.cli import register

    register(local)
    register_profiles(local)
    register_clock(local)
    register_env(local)


_register_commands()
