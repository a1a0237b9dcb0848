"""AWS CLI profiles for the lab's cloud (admin, alice, bob, auditor), as chapter 1 of the guide sets them up.

The guide's checkpoints (``kmslab check N``) look through the default boto3 session, so the lab runs
them with ``AWS_CONFIG_FILE`` pointing at ``<data-dir>/aws-config`` and ``AWS_PROFILE=admin``:
``alice`` and ``auditor`` assume the kit's roles from ``admin`` (``role_arn`` + ``source_profile``),
exactly as the learner's profiles do.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from kmslab.lab._cloud import REGION, ROLE_OF, LabCloud

CONFIG_NAME = "aws-config"


def write_profiles(lab: LabCloud) -> Path:
    """Write the four workshop profiles for the lab's cloud (mode 0600).

    Args:
        lab: the running cloud.

    Returns:
        The config file's path.
    """
    lines: list[str] = []
    for who in ("admin", "bob"):
        creds = lab.credentials(who)
        lines += [
            f"[profile {who}]",
            f"region = {REGION}",
            f"endpoint_url = {lab.url}",
            f"ca_bundle = {lab.ca_file}",
            f"aws_access_key_id = {creds['aws_access_key_id']}",
            f"aws_secret_access_key = {creds['aws_secret_access_key']}",
            "",
        ]
    for who, role in ROLE_OF.items():
        lines += [
            f"[profile {who}]",
            f"region = {REGION}",
            f"endpoint_url = {lab.url}",
            f"ca_bundle = {lab.ca_file}",
            f"role_arn = arn:aws:iam::{lab.account}:role/{role}",
            f"role_session_name = {who}",
            "source_profile = admin",
            "",
        ]
    path = lab.data_dir / CONFIG_NAME
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))
    return path


@contextlib.contextmanager
def profile_environment(config: Path) -> Iterator[None]:
    """Point boto3's default session at the lab's profiles (as admin) for the duration of the block.

    Args:
        config: the profiles file.

    Yields:
        Nothing; the environment is restored afterwards.
    """
    names: tuple[str, ...] = ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")
    names += ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE")
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in names:
            os.environ.pop(name, None)
        os.environ["AWS_CONFIG_FILE"] = str(config)
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(config.with_name("aws-credentials-none"))
        os.environ["AWS_PROFILE"] = "admin"
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
