"""The synthesized kit deployed into an in-process local cloud, and how to act as its principals.

Synthesis (``app.py``, 10-40 s) is the slow part: each configuration is synthesized once per test run
(:func:`tests.assembly.synthesize_kit` caches it for every module and worker). A deploy takes a few seconds; each
configuration is deployed once per test process (``conftest.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from kmslab.cloud.config import CloudConfig
from kmslab.cloud.deploy import Assembly, Deployer
from kmslab.cloud.deploy.run import Connection, deploy, environment, event_line
from kmslab.cloud.deploy.state import StackRecord, StackStore
from kmslab.cloud.deploy.types import default_registry
from kmslab.cloud.local import LocalCloud, build_cloud
from tests.assembly import ROOT, synthesize_kit

ACCOUNT = "111122223333"
REGION = "us-east-1"
REPLICA_REGION = "eu-west-1"
ALERT_EMAIL = "security@example.com"
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)

#: the default kit: cdk.json's context only
DEFAULT: dict[str, Any] = {"account": ACCOUNT, "region": REGION}
#: every switch of stacks/config.py that changes what is deployed, at once (none of them conflicts with another):
#: a signing key, an HMAC key, a multi-Region key with a replica, on_use=cancel, removal=destroy, an alert e-mail
ALL_SWITCHES: dict[str, Any] = {
    **DEFAULT,
    "signing_key": "ECC_NIST_P256",
    "hmac_key": True,
    "multi_region_replica_region": REPLICA_REGION,
    "on_use": "cancel",
    "removal": "destroy",
    "alert_email": ALERT_EMAIL,
}


#: module -> (configuration, position): the order the integration modules run in, per configuration
ORDER = {
    "test_storage": ("default", 0),
    "test_trail": ("default", 1),
    "test_deploy_checks": ("default", 2),
    "test_destroy_default": ("default", 3),
    "test_switches": ("switched", 0),
    "test_audit_and_alerts": ("switched", 1),
    "test_destroy_switched": ("switched", 2),
}


def synthesized(tmp_path_factory: pytest.TempPathFactory, context: Mapping[str, Any]) -> Assembly:
    """The kit synthesized with ``context`` (once per test run: ``tests.assembly`` caches it), read."""
    digest = hashlib.sha256(json.dumps(dict(context), sort_keys=True).encode()).hexdigest()[:16]
    return Assembly.read(synthesize_kit(tmp_path_factory.mktemp(f"app-{digest}") / "cdk.out", context))


@dataclass
class Kit:
    """A running cloud, the stacks deployed into it, and how to act as the kit's principals."""

    cloud: LocalCloud
    data_dir: Path
    identities: dict[str, Any]
    stacks: dict[str, StackRecord]
    lines: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def account(self) -> str:
        return str(self.identities.get("account", ACCOUNT))

    def creds(self, who: str) -> dict[str, str]:
        for item in self.identities["identities"]:
            if item["arn"].rsplit("/", 1)[-1] == who:
                return {"aws_access_key_id": item["access_key_id"], "aws_secret_access_key": item["secret_access_key"]}
        raise KeyError(who)

    def client(
        self, service: str, who: str = "admin", *, region: str = REGION, endpoint: str = "", **creds: Any
    ) -> Any:
        """A client of the cloud signed as an identity of the identities file (or with ``creds``)."""
        # A fresh session that ignores AWS_PROFILE: a test may point AWS_PROFILE at a config file of its own
        # (the guide's profiles), which must not change who this client signs as.
        hidden = os.environ.pop("AWS_PROFILE", None)
        try:
            session = boto3.session.Session(**(creds or self.creds(who)))
            return session.client(
                service,
                endpoint_url=endpoint or self.cloud.url,
                region_name=region,
                verify=str(self.data_dir / "tls" / "ca.pem"),
                config=NO_RETRY,
            )
        finally:
            if hidden is not None:
                os.environ["AWS_PROFILE"] = hidden

    def as_role(
        self, service: str, role_name: str, *, session: str = "it", region: str = REGION, endpoint: str = ""
    ) -> Any:
        """A client signed with temporary credentials of one of the kit's roles (assumed by admin)."""
        got = self.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{self.account}:role/{role_name}", RoleSessionName=session
        )
        c = got["Credentials"]
        return self.client(
            service,
            region=region,
            endpoint=endpoint,
            aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["SessionToken"],
        )

    def record(self, stack: str, prefix: str, type_name: str | None = None) -> Any:
        """The one resource of ``stack`` whose logical ID is ``prefix`` (plus the CDK's 8-hex hash)."""
        named = re.compile(re.escape(prefix) + "(?:[0-9A-F]{8})?")
        found = [
            r
            for lid, r in self.stacks[stack].resources.items()
            if named.fullmatch(lid) and (type_name is None or r.type == type_name)
        ]
        if len(found) != 1:
            raise LookupError(f"{stack}/{prefix}: {len(found)} resources match")
        return found[0]

    def resource(self, stack: str, prefix: str, attribute: str | None = None) -> str:
        """The physical ID (or an attribute) of the stack's key, bucket, trail... ``prefix``."""
        found = self.record(stack, prefix)
        return str(found.attributes[attribute]) if attribute else str(found.physical_id)

    def connection(self, region: str = REGION) -> Connection:
        admin = self.creds("admin")
        return Connection(
            endpoint_url=self.cloud.url,
            region=region,
            account=self.account,
            access_key_id=admin["aws_access_key_id"],
            secret_access_key=admin["aws_secret_access_key"],
            ca_bundle=str(self.data_dir / "tls" / "ca.pem"),
        )

    def deployer(self, on_event: Callable[[str], None] | None = None) -> Deployer:
        """The engine on this cloud's stack store, as admin (events go to ``on_event``, else ``lines``)."""
        echo = on_event or self.lines.append
        return Deployer(
            StackStore(self.data_dir / "cloudformation"),
            default_registry(),
            environment(self.connection()),
            on_event=lambda e: echo(event_line(e)),
        )

    def flush_trail(self) -> None:
        """Deliver the CloudTrail records recorded so far to the trails."""
        assert self.cloud.recorder is not None
        self.cloud.recorder.flush()


def start_cloud(root: Path) -> tuple[LocalCloud, Path, dict[str, Any]]:
    """An in-process local cloud over HTTPS on a free port, with its data under ``root``."""
    data_dir = root / "cloud"
    cloud = build_cloud(CloudConfig(data_dir=data_dir, port=0, tls=True), warm_moto=False).start()
    return cloud, data_dir, json.loads((data_dir / "identities.json").read_text())


def deploy_kit(assembly: Assembly, root: Path) -> Kit:
    """Start a cloud and deploy every stack of ``assembly`` into it (stop it with ``kit.cloud.stop()``)."""
    cloud, data_dir, identities = start_cloud(root)
    kit = Kit(cloud, data_dir, identities, {})
    try:
        started = time.monotonic()
        records = deploy(
            assembly,
            [],
            conn=kit.connection(),
            store=StackStore(data_dir / "cloudformation"),
            registry=default_registry(),
            root=ROOT,
            echo=kit.lines.append,
        )
        kit.timings["total"] = time.monotonic() - started
    except BaseException:
        cloud.stop()
        raise
    kit.stacks = {r.name: r for r in records}
    return kit


def wait_for(check: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; return it (or the last falsy value at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(interval)
