"""``kmslab local env --as ROLE``: temporary credentials of an assumed role, with AWS_SESSION_TOKEN."""

from __future__ import annotations

import json
import shlex
from typing import Any

from click.testing import CliRunner

from kmslab.cloud._env_cli import role_arn_for
from kmslab.cloud.cli import local
from tests.cloud._running import publish_state
from tests.cloud.conftest import Running

ACCOUNT = "111122223333"


def _env(cloud: Running, who: str) -> Any:
    return CliRunner().invoke(local, ["env", "--as", who, "--data-dir", str(cloud.data_dir), "--port", "0"])


def _exports(stdout: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            found[name] = shlex.split(value)[0]
    return found


def test_role_arn_for() -> None:
    assert role_arn_for("kmslab-key-user", ACCOUNT) == f"arn:aws:iam::{ACCOUNT}:role/kmslab-key-user"
    assert role_arn_for(f"arn:aws:iam::{ACCOUNT}:role/x", ACCOUNT) == f"arn:aws:iam::{ACCOUNT}:role/x"
    assert role_arn_for(f"arn:aws:iam::{ACCOUNT}:user/x", ACCOUNT) is None


def test_env_as_a_role_prints_session_credentials_that_work(cloud: Running) -> None:
    publish_state(cloud)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    cloud.client("iam").create_role(RoleName="env-reader", AssumeRolePolicyDocument=json.dumps(trust))
    for who in ("env-reader", f"arn:aws:iam::{ACCOUNT}:role/env-reader"):
        result = _env(cloud, who)
        assert result.exit_code == 0, result.output
        exports = _exports(result.stdout)
        assert exports["AWS_ACCESS_KEY_ID"].startswith("ASIA")
        assert exports["AWS_SESSION_TOKEN"]
        assert exports["AWS_ENDPOINT_URL"] == cloud.url
        assert f"user/admin assumed arn:aws:iam::{ACCOUNT}:role/env-reader" in result.stderr
        sts = cloud.client(
            "sts",
            creds={
                "aws_access_key_id": exports["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": exports["AWS_SECRET_ACCESS_KEY"],
                "aws_session_token": exports["AWS_SESSION_TOKEN"],
            },
        )
        arn = sts.get_caller_identity()["Arn"]
        assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/env-reader/kmslab-env-admin"


def test_env_as_the_identities_file_role(cloud: Running) -> None:
    """The identities file's own role trusts alice and admin by name; admin is tried first."""
    publish_state(cloud)
    role = cloud.ids["roles"][0]["arn"]
    result = _env(cloud, role)
    assert result.exit_code == 0, result.output
    assert "user/admin assumed" in result.stderr


def test_env_as_a_user_is_unchanged(cloud: Running) -> None:
    publish_state(cloud)
    result = _env(cloud, "bob")
    assert result.exit_code == 0, result.output
    exports = _exports(result.stdout)
    assert exports["AWS_ACCESS_KEY_ID"] == cloud.creds("bob")["aws_access_key_id"]
    assert "AWS_SESSION_TOKEN" not in exports
    assert "unset AWS_SESSION_TOKEN AWS_PROFILE" in result.stdout


def test_env_as_a_role_no_one_may_assume_fails_in_one_line(cloud: Running) -> None:
    publish_state(cloud)
    result = _env(cloud, "no-such-role")
    assert result.exit_code == 2
    assert f"no identity may assume arn:aws:iam::{ACCOUNT}:role/no-such-role" in result.output
    assert "admin: AccessDenied" in result.output
    wrong = _env(cloud, f"arn:aws:iam::{ACCOUNT}:user/nobody")
    assert wrong.exit_code == 2 and "no user or role named" in wrong.output
