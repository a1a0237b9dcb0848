"""The local bootstrap: the CDK's version parameter and a Powertools layer built from the pinned package."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from kmslab.cloud.deploy.bootstrap import (
    BOOTSTRAP_PARAMETER,
    _powertools_zip,
    bootstrap,
    bootstrap_version,
    public_parameter,
)
from kmslab.cloud.deploy.errors import DeployError

ROOT = Path(__file__).resolve().parents[3]
POWERTOOLS = f"/aws/service/powertools/python/arm64/python3.14/{metadata.version('aws-lambda-powertools')}"


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1"), boto3.client("lambda", region_name="us-east-1")


def test_the_bootstrap_version_comes_from_the_pinned_cli() -> None:
    version = bootstrap_version(ROOT)
    template = (ROOT / "node_modules/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml").read_text()
    assert version.isdigit() and f"Value: '{version}'" in template


def test_the_bootstrap_parameter_is_made_once(clients: tuple[Any, Any]) -> None:
    ssm, _ = clients
    assert bootstrap(ssm, version="33") == f"{BOOTSTRAP_PARAMETER} = 33 (the pinned CDK CLI's bootstrap version)"
    assert ssm.get_parameter(Name=BOOTSTRAP_PARAMETER)["Parameter"]["Value"] == "33"
    assert bootstrap(ssm, version="34") is None
    assert ssm.get_parameter(Name=BOOTSTRAP_PARAMETER)["Parameter"]["Value"] == "33"


def test_the_powertools_parameter_is_a_layer_built_from_the_pinned_package(clients: tuple[Any, Any]) -> None:
    _, lam = clients
    arn = public_parameter(lam, POWERTOOLS)
    name, version = arn.split(":")[-2:]
    layer = lam.get_layer_version(LayerName=name, VersionNumber=int(version))
    assert layer["CompatibleRuntimes"] == ["python3.14"] and layer["CompatibleArchitectures"] == ["arm64"]
    assert public_parameter(lam, POWERTOOLS) == arn  # published once
    names = zipfile.ZipFile(io.BytesIO(_powertools_zip())).namelist()
    assert "python/aws_lambda_powertools/__init__.py" in names
    assert not any("__pycache__" in n for n in names)


def test_other_public_parameters_and_releases_are_refused(clients: tuple[Any, Any]) -> None:
    _, lam = clients
    with pytest.raises(KeyError):
        public_parameter(lam, "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
    with pytest.raises(DeployError, match="ask for Powertools 0.0.1"):
        public_parameter(lam, "/aws/service/powertools/python/arm64/python3.14/0.0.1")
