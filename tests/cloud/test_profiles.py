"""``kmslab local profiles``: the workshop's AWS CLI profiles, checked with the real AWS CLI against a local cloud."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kmslab.cloud._profiles import Profile, merge_profiles, workshop_profiles
from kmslab.cloud.cli import local
from kmslab.iam.defaults import KIT_PREFIX, default_identities
from tests.cloud._running import publish_state
from tests.cloud.conftest import Running

AWS = Path(sys.executable).with_name("aws")
ACCOUNT = "111122223333"


# -- the config file ---------------------------------------------------------------------------


def test_merge_replaces_only_the_owned_sections_and_keeps_the_rest() -> None:
    text = (
        "# my settings\n[default]\nregion = eu-west-1\n\n[profile alice]\nregion = old\nstale = yes\n"
        "[profile work]\nregion = eu-central-1\n; a comment in work\n"
    )
    merged = merge_profiles(text, [Profile("alice", (("region", "us-east-1"),))])
    assert "# my settings\n[default]\nregion = eu-west-1\n" in merged
    assert "[profile work]\nregion = eu-central-1\n; a comment in work\n" in merged
    assert merged.count("[profile alice]") == 1
    assert "stale" not in merged and "region = old" not in merged
    assert merged.endswith("[profile alice]\nregion = us-east-1\n")
    assert merge_profiles(merged, [Profile("alice", (("region", "us-east-1"),))]) == merged  # idempotent


def test_profiles_are_role_profiles_for_alice_and_auditor() -> None:
    ids = default_identities(ACCOUNT)
    built = {
        p.name: dict(p.settings)
        for p in workshop_profiles(
            identities=ids, endpoint="https://localhost:1", ca_bundle="/ca.pem", region="us-east-1"
        )
    }
    assert set(built) == {"admin", "alice", "bob", "auditor", "kmslab-alice-user", "kmslab-auditor-user"}
    assert built["alice"]["role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/kmslab-key-user"
    assert built["alice"]["source_profile"] == "kmslab-alice-user"
    assert built["auditor"]["role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/kmslab-auditor"
    assert built["auditor"]["source_profile"] == "kmslab-auditor-user"
    users = {i["arn"].rsplit("/", 1)[-1]: i for i in ids["identities"]}
    assert built["kmslab-alice-user"]["aws_access_key_id"] == users["alice"]["access_key_id"]
    assert built["bob"]["aws_access_key_id"] == users["bob"]["access_key_id"]
    for settings in built.values():
        assert settings["endpoint_url"] == "https://localhost:1"
        assert settings["ca_bundle"] == "/ca.pem"
        assert settings["region"] == "us-east-1"
    assert "aws_access_key_id" not in built["alice"]  # a role profile holds no keys of its own
    shown = repr(workshop_profiles(identities=ids, endpoint="x", ca_bundle=None, region="r"))
    assert all(i["secret_access_key"] not in shown for i in ids["identities"])


def test_kit_prefix_matches_the_stacks_default() -> None:
    from stacks.config import KitConfig

    assert KitConfig.__dataclass_fields__["prefix"].default == KIT_PREFIX


# -- against a running cloud, with the real AWS CLI ------------------------------------------


@pytest.fixture(scope="module")
def kit(cloud: Running) -> Iterator[dict[str, Any]]:
    """The kit's two roles (as the deployed stacks make them: trusting the account root) plus a key and a bucket."""
    publish_state(cloud)
    iam = cloud.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    key_id = cloud.client("kms").create_key()["KeyMetadata"]["KeyId"]
    bucket = "kmslab-trail-profiles"
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="AWSLogs/log.json", Body=b'{"Records": []}')
    for name, actions, resource in (
        ("kmslab-key-user", ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "*"),
        ("kmslab-auditor", ["s3:GetObject", "s3:ListBucket"], [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]),
    ):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}
        iam.put_role_policy(RoleName=name, PolicyName="use", PolicyDocument=json.dumps(policy))
    yield {"key_id": key_id, "bucket": bucket}


def _aws(config_file: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # only the profile decides
    env.update(
        AWS_CONFIG_FILE=str(config_file),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-credentials"),
        HOME=str(tmp),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return subprocess.run([str(AWS), *args], capture_output=True, text=True, env=env, timeout=60, check=False)


def _profiles(cloud: Running, *args: str) -> Any:
    return CliRunner().invoke(local, ["profiles", "--data-dir", str(cloud.data_dir), "--port", "0", *args])


def test_profiles_work_with_the_aws_cli(cloud: Running, kit: dict[str, Any], tmp_path: Path) -> None:
    config_file = tmp_path / "deep" / "aws" / "config"
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[profile mine]\nregion = eu-west-1\n")
    result = _profiles(cloud, "--config-file", str(config_file))
    assert result.exit_code == 0, result.output
    assert f"wrote admin, alice, bob, auditor to {config_file}" in result.output
    assert f"alice assumes arn:aws:iam::{ACCOUNT}:role/kmslab-key-user" in result.output
    assert "do not exist" not in result.output  # the roles exist
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert "[profile mine]\nregion = eu-west-1" in config_file.read_text()

    sts_before = cloud.cloud.gateway._requests["sts"]
    who = _aws(config_file, tmp_path, "sts", "get-caller-identity", "--profile", "alice", "--output", "json")
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/kmslab-key-user/alice"
    assert cloud.cloud.gateway._requests["sts"] >= sts_before + 2  # AssumeRole went to the local endpoint too

    admin = _aws(
        config_file, tmp_path, "sts", "get-caller-identity", "--profile", "admin", "--query", "Arn", "--output", "text"
    )
    assert admin.stdout.strip() == f"arn:aws:iam::{ACCOUNT}:user/admin", admin.stderr

    (tmp_path / "note.txt").write_text("hello")
    args = ["kms", "encrypt", "--key-id", kit["key_id"], "--plaintext", f"fileb://{tmp_path / 'note.txt'}"]
    alice = _aws(config_file, tmp_path, *args, "--profile", "alice", "--query", "KeyId", "--output", "text")
    assert alice.returncode == 0, alice.stderr
    assert alice.stdout.strip().endswith(kit["key_id"])
    bob = _aws(config_file, tmp_path, *args, "--profile", "bob")
    assert bob.returncode != 0
    assert "AccessDenied" in bob.stderr

    log = _aws(config_file, tmp_path, "s3", "cp", f"s3://{kit['bucket']}/AWSLogs/log.json", "-", "--profile", "auditor")
    assert log.returncode == 0, log.stderr
    assert json.loads(log.stdout) == {"Records": []}

    # presigned URLs use SigV4 (the profiles say so: S3 refuses SigV2 for SSE-KMS objects)
    url = _aws(config_file, tmp_path, "s3", "presign", f"s3://{kit['bucket']}/AWSLogs/log.json", "--profile", "admin")
    assert url.returncode == 0, url.stderr
    assert url.stdout.startswith(cloud.url) and "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url.stdout
    assert "[profile admin]\nregion = us-east-1\n" in config_file.read_text()
    assert "s3 =\n    signature_version = s3v4\n" in config_file.read_text()


def test_bob_may_not_assume_the_key_user_role(cloud: Running, kit: dict[str, Any]) -> None:
    from botocore.exceptions import ClientError

    arn = f"arn:aws:iam::{ACCOUNT}:role/kmslab-key-user"
    with pytest.raises(ClientError) as caught:
        cloud.client("sts", "bob").assume_role(RoleArn=arn, RoleSessionName="bob")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert cloud.client("sts", "auditor").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/kmslab-auditor", RoleSessionName="auditor"
    )


def test_profiles_warn_about_variables_that_override_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_CA_BUNDLE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    args = ["profiles", "--data-dir", str(tmp_path / "d"), "--port", "4566", "--config-file", str(tmp_path / "c")]
    quiet = CliRunner().invoke(local, args)
    assert quiet.exit_code == 0 and "override" not in quiet.output
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    loud = CliRunner().invoke(local, args)
    assert loud.exit_code == 0
    assert (
        "note: AWS_CA_BUNDLE set in this shell override the profiles' settings; 'unset AWS_CA_BUNDLE' first"
        in loud.stderr
    )


def test_profiles_default_to_aws_config_file_and_note_missing_roles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "home" / ".aws" / "config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(target))
    result = CliRunner().invoke(local, ["profiles", "--data-dir", str(tmp_path / "data"), "--port", "4566"])
    assert result.exit_code == 0, result.output
    assert f"to {target}" in result.output
    assert "note: kmslab-key-user, kmslab-auditor do not exist yet: run 'kmslab local deploy'" in result.output
    text = target.read_text()
    assert "endpoint_url = https://localhost:4566" in text
    assert f"ca_bundle = {(tmp_path / 'data' / 'tls' / 'ca.pem').resolve()}" in text
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700


def test_profiles_without_a_port_to_name_fail_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        local, ["profiles", "--data-dir", str(tmp_path), "--port", "0", "--config-file", str(tmp_path / "c")]
    )
    assert result.exit_code == 2
    assert "no local cloud runs" in result.output
    assert not (tmp_path / "c").exists()
