"""The synthesized kit deployed into an in-process local cloud, once per test module."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from kmslab.cloud.config import CloudConfig
from kmslab.cloud.deploy import Assembly
from kmslab.cloud.deploy.run import Connection, deploy
from kmslab.cloud.deploy.state import StackRecord, StackStore
from kmslab.cloud.deploy.types import default_registry
from kmslab.cloud.local import LocalCloud, build_cloud
from tests.assembly import ROOT, synthesize_kit

#: every stack of the default kit
DEPLOYED: list[str] = []
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


@dataclass
class Kit:
    """The running cloud, the deployed stacks and how to act as the kit's principals."""

    cloud: LocalCloud
    data_dir: Path
    identities: dict[str, Any]
    stacks: dict[str, StackRecord]
    lines: list[str]

    def creds(self, who: str) -> dict[str, str]:
        for item in self.identities["identities"]:
            if item["arn"].rsplit("/", 1)[-1] == who:
                return {"aws_access_key_id": item["access_key_id"], "aws_secret_access_key": item["secret_access_key"]}
        raise KeyError(who)

    def client(self, service: str, who: str = "admin", **creds: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.cloud.url,
            region_name="us-east-1",
            verify=str(self.data_dir / "tls" / "ca.pem"),
            config=NO_RETRY,
            **(creds or self.creds(who)),
        )

    def as_role(self, service: str, role_name: str) -> Any:
        """A client signed with temporary credentials of one of the kit's roles (assumed by admin)."""
        account = self.identities.get("account", "111122223333")
        got = self.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role_name}", RoleSessionName="it")
        c = got["Credentials"]
        return self.client(
            service,
            aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["SessionToken"],
        )

    def resource(self, stack: str, prefix: str, attribute: str | None = None) -> str:
        """The physical ID (or an attribute) of the stack's key, bucket or trail ``prefix`` (plus the CDK's hash)."""
        kinds = ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::CloudTrail::Trail")
        named = re.compile(prefix + "(?:[0-9A-F]{8})?")
        [found] = [r for lid, r in self.stacks[stack].resources.items() if named.fullmatch(lid) and r.type in kinds]
        return str(found.attributes[attribute]) if attribute else found.physical_id


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    work = tmp_path_factory.mktemp("kit")
    assembly = Assembly.read(synthesize_kit(work / "cdk.out", {"account": "111122223333", "region": "us-east-1"}))
    data_dir = work / "cloud"
    cloud = build_cloud(CloudConfig(data_dir=data_dir, port=0, tls=True), warm_moto=False).start()
    try:
        identities = json.loads((data_dir / "identities.json").read_text())
        admin = next(i for i in identities["identities"] if i["arn"].endswith("/admin"))
        conn = Connection(
            endpoint_url=cloud.url,
            region="us-east-1",
            account=identities.get("account", "111122223333"),
            access_key_id=admin["access_key_id"],
            secret_access_key=admin["secret_access_key"],
            ca_bundle=str(data_dir / "tls" / "ca.pem"),
        )
        lines: list[str] = []
        records = deploy(
            assembly,
            DEPLOYED,
            conn=conn,
            store=StackStore(data_dir / "cloudformation"),
            registry=default_registry(),
            root=ROOT,
            echo=lines.append,
        )
        yield Kit(cloud, data_dir, identities, {r.name: r for r in records}, lines)
    finally:
        cloud.stop()
