"""Helpers for the checkpoint tests of chapters 8-12: a learner's environment pointed at a local cloud.

A check reads the learner's state through boto3's default session (``AWS_PROFILE``, the environment, the
profile's endpoint). :func:`learner` writes an AWS CLI config file with the guide's profiles (``admin``,
and ``alice``/``auditor`` as role profiles on the kit's roles, as ``kmslab local profiles`` does) and points
the environment at it, so the checks run exactly as ``kmslab check N`` does for a learner.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest

from kmslab.guide.checks import Chapter, CheckEnv, Finding

ACCOUNT = "111122223333"


def learner(monkeypatch: pytest.MonkeyPatch, tmp: Path, *, url: str, ca: str, creds: dict[str, str]) -> CheckEnv:
    """Write the guide's profiles for a local cloud and make ``admin`` the default, as chapter 1 does.

    Args:
        monkeypatch: The test's monkeypatch (the environment is restored after the test).
        tmp: Where the config file goes.
        url: The local cloud's endpoint.
        ca: Its CA bundle.
        creds: The admin's access key (``aws_access_key_id``, ``aws_secret_access_key``).

    Returns:
        A fresh check environment (no cached clients).
    """
    config = configparser.ConfigParser()
    common = {"region": "us-east-1", "endpoint_url": url, "ca_bundle": ca}
    config["profile admin"] = common | creds
    for name, role in (("alice", "kmslab-key-user"), ("auditor", "kmslab-auditor")):
        config[f"profile {name}"] = common | {
            "role_arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
            "source_profile": "admin",
        }
    path = tmp / "aws-config"
    with path.open("w") as handle:
        config.write(handle)
    # the environment wins over a profile: clear what a developer's shell may set
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_CA_BUNDLE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "no-credentials"))
    monkeypatch.setenv("AWS_PROFILE", "admin")
    return CheckEnv()


def findings(chapter: Chapter, env: CheckEnv) -> list[Finding]:
    """Run a chapter's checks with a fresh environment each time (no client cached across state changes).

    Args:
        chapter: The chapter.
        env: Where to look.

    Returns:
        The findings, in order.
    """
    return list(chapter.run(CheckEnv(profile=env.profile, region=env.region)))


def oks(chapter: Chapter, env: CheckEnv) -> list[bool]:
    """Which checks pass.

    Args:
        chapter: The chapter.
        env: Where to look.

    Returns:
        One boolean per check.
    """
    return [f.ok for f in findings(chapter, env)]


def hint(chapter: Chapter, env: CheckEnv, index: int) -> str:
    """The hint of one check (empty when it passes).

    Args:
        chapter: The chapter.
        env: Where to look.
        index: The check's position.

    Returns:
        Its text and hint.
    """
    found = findings(chapter, env)[index]
    return f"{found.text}: {found.hint}"


def kms(env: CheckEnv, region: str | None = None) -> Any:
    """An admin KMS client of the learner's default session.

    Args:
        env: The environment.
        region: Another Region.

    Returns:
        The client.
    """
    return CheckEnv().client("kms", region=region)
