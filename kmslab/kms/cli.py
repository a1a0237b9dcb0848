"""``kmslab kms``: run the local KMS endpoint and move its clock."""

from __future__ import annotations

import errno
from datetime import timedelta
from typing import Literal

import click

from kmslab.kms.control import ControlClient
from kmslab.kms.seams import DEFAULT_ACCOUNT, DEFAULT_REGION
from kmslab.kms.server import DEFAULT_HOST, DEFAULT_PORT

DEFAULT_DATA_DIR = ".kmslab/kms"
_ENDPOINT_ENV = "AWS_ENDPOINT_URL_KMS"
_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


class EndpointUnavailable(click.ClickException):
    """The endpoint cannot be reached or answered badly (exit status 2)."""

    exit_code = 2


@click.group(context_settings=_CONTEXT)
def kms() -> None:
    """Run and control the local KMS endpoint (AWS KMS JSON protocol, real key semantics, offline).

    \b
    Examples:
      kmslab kms serve                              # http://127.0.0.1:4599, keys in .kmslab/kms
      AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4599 aws kms create-key
      kmslab kms advance-time --days 8              # let a 7-day pending deletion complete
    """


@kms.command(context_settings=_CONTEXT)
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to listen on. Anyone who can reach it can use every key: keep it on localhost.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, writable=True),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Directory where keys persist across restarts (created if missing).",
)
@click.option("--region", default=DEFAULT_REGION, show_default=True, help="Region of requests that are not signed.")
@click.option(
    "--account",
    default=None,
    help=f"Account ID that owns the keys [default: the identities file's account, else {DEFAULT_ACCOUNT}].",
)
@click.option(
    "--trail-dir",
    type=click.Path(file_okay=False, writable=True),
    default=None,
    help="Write a CloudTrail record of every call (refused ones too) as CloudTrail log files under this "
    "directory, and answer CloudTrail LookupEvents over them.",
)
@click.option(
    "--trail-sync",
    type=click.Choice(["write", "fsync"]),
    default="write",
    show_default=True,
    help="When a call is answered, with --trail-dir. write: once its CloudTrail record is written to the trail's "
    "journal; the record survives the server being killed (kill -9) and is synced to disk within 50 ms, so a "
    "power loss or OS crash can lose the last 50 ms of records (as the key store, SQLite WAL with "
    "synchronous=NORMAL, can lose its last writes). fsync: once the record is also synced to disk; it survives "
    "a power loss too, but a single client then gets several times fewer calls per second.",
)
@click.option(
    "--identities",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="JSON or YAML file of IAM identities (ARN, access key, secret, IAM policies). Requests must then be "
    "signed by one of them, and key policies, IAM policies and grants decide every call. Without it, every "
    "caller acts as the account root.",
)
@click.option("--verbose", "-v", is_flag=True, help="Log one line per request to stderr.")
def serve(
    host: str,
    port: int,
    data_dir: str,
    region: str,
    account: str | None,
    trail_dir: str | None,
    trail_sync: Literal["write", "fsync"],
    identities: str | None,
    verbose: bool,
) -> None:
    """Serve the local KMS over HTTP until Ctrl-C (or SIGTERM).

    Any AWS SDK or the AWS CLI can use it: set AWS_ENDPOINT_URL_KMS to the printed URL; without
    --identities any credentials are accepted. The region of each request is the one it is signed for, so one
    endpoint serves every region. Keys survive restarts (and kill -9) in --data-dir.

    \b
    Examples:
      kmslab kms serve
      kmslab kms serve --port 0 --data-dir /tmp/kms --region eu-west-1
      kmslab kms serve --trail-dir .kmslab/trail --identities identities.json
      AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4599 aws kms list-keys
    """
    from kmslab.endpoint import build_endpoint

    if account is not None and not (account.isdigit() and len(account) == 12):
        raise click.BadParameter("must be 12 digits", param_hint="--account")
    try:
        endpoint = build_endpoint(
            data_dir=data_dir,
            host=host,
            port=port,
            region=region,
            account=account,
            trail_dir=trail_dir,
            trail_sync=trail_sync,
            identities=identities,
            verbose=verbose,
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise EndpointUnavailable(f"cannot listen on {host}:{port}: the port is already in use") from exc
        raise EndpointUnavailable(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # a corrupt saved clock offset
        raise EndpointUnavailable(f"cannot open the local KMS in {data_dir}: {exc}") from exc
    server = endpoint.server
    account = server.kms.account
    server.start()
    click.echo(
        f"kmslab kms: serving account {account} at {server.url} (default region {region}, data {data_dir}); "
        f"point clients at it with {_ENDPOINT_ENV}={server.url} and "
        + ("the identities' credentials" if identities else "any credentials")
        + ("; CloudTrail logs in " + trail_dir if trail_dir else "")
        + "; Ctrl-C stops"
    )
    server.serve_forever()
    click.echo("kmslab kms: stopped", err=True)


@kms.command("advance-time", context_settings=_CONTEXT)
@click.option(
    "--endpoint",
    envvar=_ENDPOINT_ENV,
    default=f"http://{DEFAULT_HOST}:{DEFAULT_PORT}",
    show_default=True,
    help=f"The local KMS endpoint URL (also read from {_ENDPOINT_ENV}).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="The endpoint's --data-dir: its control token (control.token) authorizes the request.",
)
@click.option("--days", type=click.FloatRange(min=0), help="Days to move forward.")
@click.option("--hours", type=click.FloatRange(min=0), help="Hours to move forward.")
@click.option("--seconds", type=click.FloatRange(min=0), help="Seconds to move forward.")
def advance_time(endpoint: str, data_dir: str, days: float | None, hours: float | None, seconds: float | None) -> None:
    """Move the local KMS clock forward; whatever falls due happens (pending deletions complete).

    Give exactly one of --days, --hours, --seconds. The clock never moves back. Only the user who runs
    the endpoint may move it: the request carries the control token from the endpoint's --data-dir.

    \b
    Examples:
      kmslab kms advance-time --days 8
      kmslab kms advance-time --endpoint http://127.0.0.1:4599 --data-dir /tmp/kms --hours 1
    """
    options = (("days", days), ("hours", hours), ("seconds", seconds))
    given = [(name, value) for name, value in options if value is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --days, --hours, --seconds")
    name, value = given[0]
    total = value * {"days": 86400, "hours": 3600, "seconds": 1}[name]
    now = ControlClient(endpoint, data_dir=data_dir).advance(timedelta(seconds=total))
    click.echo(f"local KMS time is now {now.isoformat()}")


def _mount_explain() -> None:
    from kmslab.kms.authz.cli import explain

    kms.add_command(explain, "explain")


_mount_explain()
