"""``kmslab local profiles``: write the workshop's AWS CLI profiles (see :mod:`kmslab.cloud._profiles`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from kmslab.cloud._cli_common import CONTEXT, LocalError, data_dir_option, endpoint, identity_data, port_option
from kmslab.cloud._profiles import PUBLIC, ROLE_PROFILES, config_path, role_arn, workshop_profiles, write_profiles
from kmslab.cloud.config import CloudConfig

#: environment variables the AWS CLI prefers to a profile's endpoint, CA bundle or (with AWS_PROFILE) keys
_SHADOWING = ("AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@click.command(context_settings=CONTEXT)
@data_dir_option
@port_option
@click.option(
    "--config-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="The AWS CLI config file to write (default: $AWS_CONFIG_FILE, else ~/.aws/config).",
)
def profiles(data_dir: str, port: int, config_file: str | None) -> None:
    """Write AWS CLI profiles admin, alice, bob and auditor for the local cloud into the AWS CLI config file.

    admin and bob sign with the workshop users' keys; alice and auditor are role profiles on the roles the
    deployed kit creates (kmslab-key-user, kmslab-auditor), as on AWS. Only these sections (and the hidden
    kmslab-alice-user and kmslab-auditor-user they start from) are replaced; the rest of the file is kept.

    \b
    Examples:
      kmslab local up -d && kmslab local deploy && kmslab local profiles
      aws sts get-caller-identity --profile alice
      kmslab local profiles --config-file ./aws-config
    """
    config = CloudConfig(data_dir=Path(data_dir), port=port)
    url, ca, region, state = endpoint(config)
    data = identity_data(config, create=state is None)
    try:
        built = workshop_profiles(identities=data, endpoint=url, ca_bundle=ca, region=region)
    except KeyError as exc:
        raise LocalError(
            f"the identities of {data_dir} have no user {exc.args[0]!r}: the profiles need the workshop set"
        ) from None
    path = config_path(config_file)
    try:
        written = write_profiles(path, built)
    except OSError as exc:
        raise LocalError(f"cannot write {path}: {exc.strerror or exc}") from None
    account = str(data.get("account"))
    click.echo(f"kmslab local profiles: wrote {', '.join(PUBLIC)} to {written}")
    click.echo(f"  endpoint {url}, region {region}")
    for name in ROLE_PROFILES:
        click.echo(f"  {name} assumes {role_arn(account, name)}")
    missing = _missing_roles(state, data, account)
    if missing:
        click.echo(
            f"  note: {', '.join(missing)} {'does' if len(missing) == 1 else 'do'} not exist yet: "
            "run 'kmslab local deploy' before using alice and auditor"
        )
    click.echo("  use them with: export AWS_PROFILE=admin, or --profile alice|bob|auditor")
    shadowing = [name for name in _SHADOWING if os.environ.get(name)]
    if shadowing:
        click.echo(
            f"  note: {', '.join(shadowing)} set in this shell override the profiles' settings; "
            f"'unset {' '.join(shadowing)}' first",
            err=True,
        )


def _missing_roles(state: dict[str, Any] | None, data: dict[str, Any], account: str) -> list[str]:
    """The kit's roles the running cloud lacks (all of them when it does not run)."""
    names = [role_arn(account, name).rsplit("/", 1)[-1] for name in ROLE_PROFILES]
    if state is None:
        return names
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    admin = next((i for i in data.get("identities", []) if str(i.get("arn", "")).endswith(":user/admin")), None)
    if admin is None:
        return []
    iam = boto3.client(
        "iam",
        endpoint_url=str(state["url"]),
        region_name=str(state.get("region", "us-east-1")),
        verify=state.get("ca") or False,
        aws_access_key_id=str(admin["access_key_id"]),
        aws_secret_access_key=str(admin["secret_access_key"]),
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=15),
    )
    missing = []
    for name in names:
        try:
            iam.get_role(RoleName=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
                missing.append(name)
        except BotoCoreError:
            return []  # cannot tell: say nothing rather than something wrong
    return missing


def register(group: click.Group) -> None:
    """Add ``profiles`` to the ``kmslab local`` group.

    Args:
        group: the group.
    """
    group.add_command(profiles, "profiles")
