"""A learner's world for checkpoint tests: a local cloud with the kit deployed, and AWS CLI profiles for it.

``deployed_kit`` starts an in-process local cloud on a free port, deploys the synthesized kit (synthesized
once per test process), and writes an AWS config file with the workshop profiles (``admin``, ``alice``,
``bob``), as chapter 1 does. ``learner_env`` points boto3's default session at it (``AWS_CONFIG_FILE``,
``AWS_PROFILE``) and moves into a scratch directory, so a check runs exactly as ``kmslab check N`` does.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from kmslab.cloud.config import CloudConfig
from kmslab.cloud.deploy import Assembly
from kmslab.cloud.deploy.run import Connection, deploy
from kmslab.cloud.deploy.state import StackStore
from kmslab.cloud.deploy.types import default_registry
from kmslab.cloud.local import build_cloud
from kmslab.guide.checks import Chapter, CheckEnv, Finding
from tests.assembly import ROOT, synthesize_kit

ACCOUNT, REGION = "111122223333", "us-east-1"
PROFILES = ("admin", "alice", "bob")
_ASSEMBLY: list[Path] = []


def _assembly() -> Path:
    """The kit synthesized once per test process (about 20 s)."""
    if not _ASSEMBLY:
        out = Path(tempfile.mkdtemp(prefix="kmslab-checks-")) / "cdk.out"
        _ASSEMBLY.append(synthesize_kit(out, {"account": ACCOUNT, "region": REGION}))
    return _ASSEMBLY[0]


@dataclass
class Learner:
    """The running cloud as a learner sees it: profiles in a config file."""

    url: str
    ca: str
    config_file: Path
    creds: dict[str, dict[str, str]]

    def client(self, service: str, who: str = "admin") -> Any:
        """A boto3 client signed as one of the workshop identities."""
        # A session of its own: boto3's default session would keep whatever profile the environment named first.
        session = boto3.session.Session(region_name=REGION, **self.creds[who])
        return session.client(service, endpoint_url=self.url, verify=self.ca)


@contextmanager
def deployed_kit(work: Path) -> Iterator[Learner]:
    """Start a local cloud in ``work``, deploy the kit, write the profiles; stop the cloud at exit."""
    data_dir = work / "cloud"
    cloud = build_cloud(CloudConfig(data_dir=data_dir, port=0, tls=True), warm_moto=False).start()
    try:
        identities = json.loads((data_dir / "identities.json").read_text())
        creds = {
            item["arn"].rsplit("/", 1)[-1]: {
                "aws_access_key_id": item["access_key_id"],
                "aws_secret_access_key": item["secret_access_key"],
            }
            for item in identities["identities"]
        }
        ca = str(data_dir / "tls" / "ca.pem")
        conn = Connection(
            endpoint_url=cloud.url,
            region=REGION,
            account=identities.get("account", ACCOUNT),
            access_key_id=creds["admin"]["aws_access_key_id"],
            secret_access_key=creds["admin"]["aws_secret_access_key"],
            ca_bundle=ca,
        )
        assembly = Assembly.read(_assembly())
        deploy(
            assembly,
            [],
            conn=conn,
            store=StackStore(data_dir / "cloudformation"),
            registry=default_registry(),
            root=ROOT,
            echo=lambda line: None,
        )
        config = work / "aws-config"
        config.write_text(
            "".join(
                f"[profile {who}]\nregion = {REGION}\nendpoint_url = {cloud.url}\nca_bundle = {ca}\n"
                f"aws_access_key_id = {creds[who]['aws_access_key_id']}\n"
                f"aws_secret_access_key = {creds[who]['aws_secret_access_key']}\n"
                for who in PROFILES
            )
        )
        yield Learner(cloud.url, ca, config, creds)
    finally:
        cloud.stop()


def learner_env(learner: Learner, monkeypatch: pytest.MonkeyPatch, workdir: Path, profile: str = "admin") -> CheckEnv:
    """Point the default boto3 session at the learner's profile and move into ``workdir``."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_CA_BUNDLE",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_SHARED_CREDENTIALS_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(learner.config_file))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(workdir / "no-credentials"))
    monkeypatch.setenv("AWS_PROFILE", profile)
    monkeypatch.chdir(workdir)
    return CheckEnv()


def results(chapter: Chapter, env: CheckEnv) -> list[Finding]:
    """Run a chapter's checks."""
    return list(chapter.run(env))
