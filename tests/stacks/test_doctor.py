"""kmslab doctor: the preflight reads the synthesized templates and checks an account (moto's SSM and STS)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from kmslab.doctor import doctor, plan
from stacks.alerting import powertools_layer_parameter
from tests.stacks.conftest import ACCOUNT, REGION, REPLICA_REGION, Synthesized

BOOTSTRAP = "/cdk-bootstrap/hnb659fds/version"


def test_plan_reads_every_ssm_parameter_and_bootstrap_the_templates_need(full_synth: Synthesized) -> None:
    checks = {(c.kind, c.region, c.name): c for c in plan(full_synth.outdir)}
    assert ("account", "", ACCOUNT) in checks
    assert ("ssm", REGION, powertools_layer_parameter()) in checks
    for region in (REGION, REPLICA_REGION):
        assert checks[("bootstrap", region, BOOTSTRAP)].minimum >= 6
    # BootstrapVersion is a template parameter too, but it is checked as a version, not as a mere parameter.
    assert not any(kind == "ssm" and name == BOOTSTRAP for kind, _, name in checks)


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)


def publish_public_parameter(region: str, name: str, value: str) -> None:
    """Seed an AWS-published parameter (``/aws/service/...``): nobody may put one, moto seeds its own the same way."""
    from moto.ssm.models import Parameter, ssm_backends

    store = ssm_backends[ACCOUNT][region]._parameters  # noqa: SLF001 - moto's store of public parameters
    store[name].append(
        Parameter(
            account_id=ACCOUNT,
            name=name,
            value=value,
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=datetime.now(UTC),
            version=1,
            data_type="text",
        )
    )


def _run(outdir: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(doctor, ["--aws", "--cdk-out", str(outdir)])
    return result.exit_code, result.output.splitlines()


@mock_aws
def test_with_everything_in_place_every_check_passes_one_line_each(default_synth: Synthesized, account: None) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=BOOTSTRAP, Value="30", Type="String")
    publish_public_parameter(REGION, powertools_layer_parameter(), "arn:aws:lambda:us-east-1:017000801446:layer:x:1")
    status, lines = _run(default_synth.outdir)
    assert status == 0, lines
    assert len(lines) == len(plan(default_synth.outdir)) + 1
    assert all(line.startswith("ok") for line in lines[:-1])
    assert lines[-1] == "kmslab doctor: 3 of 3 checks passed"


@mock_aws
def test_a_missing_parameter_an_old_bootstrap_and_another_account_each_fail(
    default_synth: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "444455556666")
    boto3.client("ssm", region_name=REGION).put_parameter(Name=BOOTSTRAP, Value="5", Type="String")
    status, lines = _run(default_synth.outdir)
    assert status == 1
    failed = [line for line in lines if line.startswith("FAIL")]
    assert len(failed) == 3
    assert any("account 444455556666" in line for line in failed)
    assert any("bootstrap" in line and "version 5" in line for line in failed)
    assert any(powertools_layer_parameter() in line and "ParameterNotFound" in line for line in failed)


def test_without_credentials_one_line_and_exit_status_2(
    default_synth: Synthesized, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_") and name not in ("AWS_EC2_METADATA_DISABLED",):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    result = CliRunner().invoke(doctor, ["--aws", "--cdk-out", str(default_synth.outdir)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "kmslab doctor: no AWS credentials found (configure a profile or AWS_* variables)"
    ]


def test_without_a_cloud_assembly_it_says_to_synth_first(tmp_path: Path) -> None:
    result = CliRunner().invoke(doctor, ["--cdk-out", str(tmp_path)])
    assert result.exit_code != 0
    assert "run 'make synth' first" in str(result.exception) + result.output


def test_a_manifest_without_a_template_file_is_one_clear_error(tmp_path: Path) -> None:
    from kmslab.doctor import DoctorError

    (tmp_path / "manifest.json").write_text('{"artifacts": {"S": {"type": "aws:cloudformation:stack"}}}')
    with pytest.raises(DoctorError, match="names no template file"):
        plan(tmp_path)
