"""``kmslab local env``: 'export' lines that point the AWS CLI and SDKs at the local cloud as a user or a role.

A user (``--as alice``) gets its own keys. A role (``--as kmslab-key-user``, or the role's ARN) is
assumed through the running cloud's STS, as on AWS, by the first workshop user whose policies and the
role's trust policy allow it (``admin`` first); the lines then carry the temporary credentials with
``AWS_SESSION_TOKEN``, and one line on stderr says who assumed the role and until when.
"""

from __future__ import annotations

import shlex
from datetime import UTC
from pathlib import Path
from typing import Any

import click

from kmslab.cloud._cli_common import (
    CONTEXT,
    LocalError,
    data_dir_option,
    endpoint,
    find_identity,
    identity_data,
    port_option,
)
from kmslab.cloud.config import CloudConfig

__all__ = ["env", "register", "role_arn_for"]


def role_arn_for(who: str, account: str) -> str | None:
    """Read ``--as`` as a role: a role ARN as it is, a bare name as a role of the account.

    Args:
        who: the ``--as`` value.
        account: the account.

    Returns:
        The role ARN, or None when ``who`` is an ARN of something else.
    """
    if who.startswith("arn:"):
        return who if ":role/" in who else None
    return f"arn:aws:iam::{account}:role/{who}"


def _assume(state: dict[str, Any], data: dict[str, Any], arn: str) -> tuple[dict[str, Any], str]:
    """Assume ``arn`` as the first user allowed to; return the credentials and who assumed it."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    users = sorted(data.get("identities", []), key=lambda i: not str(i.get("arn", "")).endswith(":user/admin"))
    refusals: list[str] = []
    for user in users:
        name = str(user.get("arn", "")).rsplit("/", 1)[-1]
        sts = boto3.client(
            "sts",
            endpoint_url=str(state["url"]),
            region_name=str(state.get("region", "us-east-1")),
            verify=state.get("ca") or False,
            aws_access_key_id=str(user["access_key_id"]),
            aws_secret_access_key=str(user["secret_access_key"]),
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=15),
        )
        try:
            answer = sts.assume_role(RoleArn=arn, RoleSessionName=f"kmslab-env-{name}"[:64])
        except ClientError as exc:
            error = exc.response.get("Error", {})
            refusals.append(f"{name}: {error.get('Code')}")
            continue
        except BotoCoreError as exc:
            raise LocalError(f"{state['url']} does not answer: {exc}") from None
        return dict(answer["Credentials"]), str(user["arn"])
    raise LocalError(f"no identity may assume {arn} ({'; '.join(refusals) or 'no identities'})")


@click.command(context_settings=CONTEXT)
@click.option(
    "--as",
    "who",
    default="admin",
    show_default=True,
    help="A user (name or ARN) to sign as, or a role (name or ARN) to assume.",
)
@port_option
@data_dir_option
def env(who: str, port: int, data_dir: str) -> None:
    """Print 'export' lines that point the AWS CLI and SDKs at the local cloud as a user or an assumed role.

    \b
    Examples:
      eval "$(kmslab local env --as alice)"
      eval "$(kmslab local env --as kmslab-key-user)"      # a role: temporary credentials
      eval "$(kmslab local env --as bob --data-dir /tmp/cloud)"
    """
    config = CloudConfig(data_dir=Path(data_dir), port=port)
    data = identity_data(config)
    url, ca, region, state = endpoint(config)
    lines = [f"export AWS_ENDPOINT_URL={shlex.quote(url)}"]
    lines.append(f"export AWS_CA_BUNDLE={shlex.quote(ca)}" if ca else "unset AWS_CA_BUNDLE")
    lines += [f"export AWS_DEFAULT_REGION={region}", f"export AWS_REGION={region}"]
    identity = find_identity(data, who)
    if identity is not None:
        lines += [
            f"export AWS_ACCESS_KEY_ID={shlex.quote(str(identity['access_key_id']))}",
            f"export AWS_SECRET_ACCESS_KEY={shlex.quote(str(identity['secret_access_key']))}",
            "unset AWS_SESSION_TOKEN AWS_PROFILE",
        ]
        click.echo("\n".join(lines))
        return
    arn = role_arn_for(who, str(data.get("account")))
    names = ", ".join(str(i.get("arn", "")).rsplit("/", 1)[-1] for i in data.get("identities", []))
    if arn is None:
        raise LocalError(f"no user or role named {who!r} (users: {names})")
    if state is None:
        raise LocalError(
            f"no user named {who!r} (users: {names}); assuming the role {arn} needs the running local cloud: "
            "start it with 'kmslab local up -d'"
        )
    credentials, source = _assume(state, data, arn)
    lines += [
        f"export AWS_ACCESS_KEY_ID={shlex.quote(str(credentials['AccessKeyId']))}",
        f"export AWS_SECRET_ACCESS_KEY={shlex.quote(str(credentials['SecretAccessKey']))}",
        f"export AWS_SESSION_TOKEN={shlex.quote(str(credentials['SessionToken']))}",
        "unset AWS_PROFILE",
    ]
    click.echo("\n".join(lines))
    expires = credentials["Expiration"]
    shown = expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(expires, "astimezone") else str(expires)
    click.echo(f"kmslab local env: {source} assumed {arn} (credentials expire {shown})", err=True)


def register(group: click.Group) -> None:
    """Add ``env`` to the ``kmslab local`` group.

    Args:
        group: the group.
    """
    group.add_command(env, "env")
