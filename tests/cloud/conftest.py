"""A real local cloud per test module: the gateway served in a thread on a free port (HTTPS, or HTTP)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from kmslab.cloud.config import CloudConfig
from kmslab.cloud.local import LocalCloud, build_cloud

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


@dataclass
class Running:
    """A running cloud and how to talk to it."""

    cloud: LocalCloud
    data_dir: Path
    ids: dict[str, Any]

    @property
    def url(self) -> str:
        return self.cloud.url

    @property
    def ca(self) -> str | bool:
        return str(self.data_dir / "tls" / "ca.pem") if self.cloud.config.tls else False

    def creds(self, who: str) -> dict[str, str]:
        for item in self.ids["identities"]:
            if item["arn"].rsplit("/", 1)[-1] == who:
                return {"aws_access_key_id": item["access_key_id"], "aws_secret_access_key": item["secret_access_key"]}
        raise KeyError(who)

    def client(self, service: str, who: str = "admin", config: Config | None = None, **kwargs: Any) -> Any:
        creds = kwargs.pop("creds", None) or self.creds(who)
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=kwargs.pop("region_name", "us-east-1"),
            verify=self.ca,
            config=config or NO_RETRY,
            **creds,
            **kwargs,
        )


def _start(tmp: Path, *, tls: bool) -> Running:
    cloud = build_cloud(CloudConfig(data_dir=tmp, port=0, tls=tls), warm_moto=False).start()
    ids = json.loads((tmp / "identities.json").read_text())
    return Running(cloud, tmp, ids)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """An HTTPS local cloud for the module."""
    running = _start(tmp_path_factory.mktemp("cloud"), tls=True)
    yield running
    running.cloud.stop()


@pytest.fixture(scope="module")
def http_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A plain-HTTP local cloud for the module."""
    running = _start(tmp_path_factory.mktemp("cloud-http"), tls=False)
    yield running
    running.cloud.stop()


@pytest.fixture
def own_cloud(tmp_path: Path) -> Iterator[Running]:
    """A plain-HTTP local cloud of the test's own (its clock, metrics and alarms shared with no other test)."""
    running = _start(tmp_path, tls=False)
    yield running
    running.cloud.stop()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Make bucket/key names unique per test."""
    import uuid

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make
