"""KitConfig: defaults, parsing of CLI context strings, one-line errors naming the setting, app.py exit status."""

from __future__ import annotations

import os
import subprocess
import sys

import aws_cdk as cdk
import pytest

from stacks.config import ConfigError, KitConfig
from tests.stacks.conftest import ROOT


def test_defaults() -> None:
    config = KitConfig.from_mapping({})
    assert config == KitConfig()
    assert (config.prefix, config.account, config.region) == ("kmslab", "111122223333", "us-east-1")
    assert config.key_admin_arns == () and config.key_user_arns == ()
    assert (config.rotation_period_days, config.deletion_window_days) == (365, 7)
    assert config.alert_email is None and config.on_use == "notify"
    assert config.signing_key is None and config.hmac_key is False
    assert config.multi_region_replica_region is None
    assert config.removal == "retain" and config.trail_cloudwatch_logs is True
    assert (config.trail_name, config.trail_log_group_name, config.stack_prefix) == (
        "kmslab-trail",
        "/kmslab/cloudtrail",
        "Kmslab",
    )


def test_account_and_region_fall_back_to_the_cdk_environment() -> None:
    env = {"CDK_DEFAULT_ACCOUNT": "444455556666", "CDK_DEFAULT_REGION": "eu-central-1"}
    assert KitConfig.from_mapping({}, environ=env).account == "444455556666"
    assert KitConfig.from_mapping({}, environ=env).region == "eu-central-1"
    explicit = KitConfig.from_mapping({"account": "777788889999", "region": "ap-southeast-2"}, environ=env)
    assert (explicit.account, explicit.region) == ("777788889999", "ap-southeast-2")


def test_from_context_reads_the_app_context_and_ignores_cdk_keys() -> None:
    app = cdk.App(
        context={
            "@aws-cdk/aws-s3:publicAccessBlockedByDefault": True,
            "aws:cdk:enable-path-metadata": True,
            "prefix": "lab-one",
            "account": "111122223333",
        }
    )
    assert KitConfig.from_context(app).prefix == "lab-one"


def test_cli_strings_are_parsed() -> None:
    config = KitConfig.from_mapping(
        {
            "rotation_period_days": "180",
            "deletion_window_days": "30",
            "hmac_key": "true",
            "trail_cloudwatch_logs": "no",
            "signing_key": "RSA_3072",
            "key_user_arns": "arn:aws:iam::111122223333:role/A, arn:aws:iam::111122223333:user/path/b",
            "key_admin_arns": '["arn:aws:iam::111122223333:root"]',
            "alert_email": "none",
        }
    )
    assert (config.rotation_period_days, config.deletion_window_days) == (180, 30)
    assert config.hmac_key is True and config.trail_cloudwatch_logs is False
    assert config.key_user_arns == ("arn:aws:iam::111122223333:role/A", "arn:aws:iam::111122223333:user/path/b")
    assert config.key_admin_arns == ("arn:aws:iam::111122223333:root",)
    assert config.alert_email is None and config.signing_key == "RSA_3072"


@pytest.mark.parametrize(
    ("context", "setting"),
    [
        ({"rotation_period_days": 30}, "rotation_period_days"),
        ({"rotation_period_days": "2561"}, "rotation_period_days"),
        ({"rotation_period_days": "ninety"}, "rotation_period_days"),
        ({"deletion_window_days": 3}, "deletion_window_days"),
        ({"deletion_window_days": 31}, "deletion_window_days"),
        ({"key_admin_arns": ["arn:aws:iam::1111:role/Admin"]}, "key_admin_arns"),
        ({"key_user_arns": "arn:aws:s3:::bucket"}, "key_user_arns"),
        ({"key_user_arns": "[not json"}, "key_user_arns"),
        ({"signing_key": "RSA_1024"}, "signing_key"),
        ({"on_use": "delete"}, "on_use"),
        ({"removal": "snapshot"}, "removal"),
        ({"hmac_key": "maybe"}, "hmac_key"),
        ({"alert_email": "not-an-address"}, "alert_email"),
        ({"account": "12345"}, "account"),
        ({"region": "mars-1"}, "region"),
        ({"multi_region_replica_region": "us-east-1"}, "multi_region_replica_region"),
        ({"prefix": "KMS Lab"}, "prefix"),
        ({"rotation_days": 90}, "rotation_days"),
    ],
)
def test_invalid_settings_fail_with_one_line_naming_the_setting(context: dict[str, object], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        KitConfig.from_mapping(context)
    message = str(caught.value)
    assert f"'{setting}'" in message
    assert "\n" not in message
    assert isinstance(caught.value, ValueError)


def test_config_is_frozen() -> None:
    config = KitConfig()
    with pytest.raises(AttributeError):
        config.prefix = "other"  # type: ignore[misc]


def run_app(*context: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "app.py"]
    env = {**os.environ, "CDK_CONTEXT_JSON": "{" + ",".join(context) + "}", "CDK_OUTDIR": "/nonexistent-cdk-out"}
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("context", "setting"),
    [('"rotation_period_days": "30"', "rotation_period_days"), ('"deletion_window_days": 3', "deletion_window_days")],
)
def test_app_exits_2_with_one_line_on_bad_context(context: str, setting: str) -> None:
    result = run_app(context)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert setting in lines[0] and lines[0].startswith("kmslab: invalid setting")
    assert "Traceback" not in result.stderr and result.stdout == ""
