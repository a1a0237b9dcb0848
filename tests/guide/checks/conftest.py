"""The kit deployed into one in-process local cloud for the checkpoint tests, and the guide's four profiles.

The profiles are written as ``kmslab local profiles`` writes them (chapter 1, step 1.3): ``admin`` and ``bob``
with their access keys, ``alice`` and ``auditor`` as role profiles on the kit's roles with ``source_profile
admin``, each with the local endpoint, the local CA and the Region. Tests point boto3 at that file through
``AWS_CONFIG_FILE`` and pick the session's profile with ``AWS_PROFILE``, as a learner does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from kmslab.cloud.config import CloudConfig
from kmslab.cloud.deploy import Assembly
from kmslab.cloud.deploy.run import Connection, deploy
from kmslab.cloud.deploy.state import StackStore
from kmslab.cloud.deploy.types import default_registry
from kmslab.cloud.local import build_cloud
from kmslab.guide.checks import CheckEnv, Finding, chapters
from tests.assembly import ROOT, synthesize_kit
from tests.integration.conftest import Kit

ACCOUNT = "111122223333"
ROLES = {"alice": "kmslab-key-user", "auditor": "kmslab-auditor"}


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    """Every stack of the default kit in a local cloud (HTTPS, free port), for one test module.

    Module scope, as in ``tests/integration``: the local cloud's moto-backed services keep process-wide state, so
    two kits must not run at once in one worker.
    """
    work = tmp_path_factory.mktemp("guide-kit")
    assembly = Assembly.read(synthesize_kit(work / "cdk.out", {"account": ACCOUNT, "region": "us-east-1"}))
    data_dir = work / "cloud"
    cloud = build_cloud(CloudConfig(data_dir=data_dir, port=0, tls=True), warm_moto=False).start()
    try:
        identities = json.loads((data_dir / "identities.json").read_text())
        admin = next(i for i in identities["identities"] if i["arn"].endswith("/admin"))
        conn = Connection(
            endpoint_url=cloud.url,
            region="us-east-1",
            account=ACCOUNT,
            access_key_id=admin["access_key_id"],
            secret_access_key=admin["secret_access_key"],
            ca_bundle=str(data_dir / "tls" / "ca.pem"),
        )
        lines: list[str] = []
        records = deploy(
            assembly,
            [],
            conn=conn,
            store=StackStore(data_dir / "cloudformation"),
            registry=default_registry(),
            root=ROOT,
            echo=lines.append,
        )
        yield Kit(cloud, data_dir, identities, {r.name: r for r in records}, lines)
    finally:
        cloud.stop()


def write_profiles(kit: Kit, path: Path, *, users: dict[str, str] | None = None, skip: tuple[str, ...] = ()) -> Path:
    """Write the guide's four profiles for ``kit`` into an AWS CLI config file.

    Args:
        kit: The deployed kit.
        path: The config file to write.
        users: Profile name -> local identity whose access key it uses (default: admin and bob as themselves).
        skip: Profiles to leave out.

    Returns:
        ``path``.
    """
    common = f"region = us-east-1\nendpoint_url = {kit.cloud.url}\nca_bundle = {kit.data_dir / 'tls' / 'ca.pem'}\n"
    sections = []
    for profile, who in (users or {"admin": "admin", "bob": "bob"}).items():
        creds = kit.creds(who)
        sections.append(
            f"[profile {profile}]\n{common}aws_access_key_id = {creds['aws_access_key_id']}\n"
            f"aws_secret_access_key = {creds['aws_secret_access_key']}\n"
        )
    for profile, role in ROLES.items():
        sections.append(
            f"[profile {profile}]\n{common}role_arn = arn:aws:iam::{ACCOUNT}:role/{role}\nsource_profile = admin\n"
        )
    kept = [s for s in sections if not any(s.startswith(f"[profile {name}]") for name in skip)]
    path.write_text("\n".join(kept))
    return path


@pytest.fixture
def profiles(kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Point boto3 at a fresh profiles file (the guide's four by default) and ``AWS_PROFILE=admin``."""
    # AWS_CA_BUNDLE (set on some machines) would override the profiles' ca_bundle
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_PROFILE", "admin")
    # boto3's default session remembers the environment it was made in: start from none, and leave none behind
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)

    def use(**kwargs: object) -> None:
        monkeypatch.setenv("AWS_CONFIG_FILE", str(write_profiles(kit, tmp_path / "config", **kwargs)))  # type: ignore[arg-type]

    use()
    return use


@pytest.fixture
def workshop_aliases(kit: Kit, profiles: Callable[..., None]) -> Iterator[Callable[..., str]]:
    """Create keys under the guide's aliases for one test, and delete those aliases afterwards.

    The kit is shared by the tests of a module, in any order: no test sees another's ``alias/workshop/*``.
    """
    kms = kit.client("kms")
    made: list[str] = []

    def create(alias: str, **spec: str) -> str:
        arn = str(kms.create_key(Description=f"test {alias}", **spec)["KeyMetadata"]["Arn"])
        kms.create_alias(AliasName=alias, TargetKeyId=arn)
        made.append(alias)
        return arn

    yield create
    for alias in made:
        kms.delete_alias(AliasName=alias)


def run_chapter(number: int, **env: str | None) -> list[Finding]:
    """Run chapter ``number``'s checks with a fresh session.

    Args:
        number: The chapter.
        **env: ``CheckEnv`` fields (``profile``, ``region``).

    Returns:
        The findings, in order.
    """
    return list(chapters()[number].run(CheckEnv(**env)))  # type: ignore[arg-type]
