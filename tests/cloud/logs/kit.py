"""The kit's synthesized templates, once per test process, with intrinsics resolved to fixed names.

Used by the cloud core tests (logs, cloudtrail, athena) to read the kit's own metric filter, alarm,
trail, bucket and key policies and Glue table, exactly as the CDK app emits them.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kmslab.cloud.deploy.intrinsics import Evaluator
from tests.assembly import synthesize_kit

ACCOUNT = "111122223333"
REGION = "us-east-1"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TRAIL_BUCKET = "kmslab-trail-bucket"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:kmslab-alerts"


class _Scope:
    """Resolves references to stable physical names: a resource's name is its logical ID, lowercased."""

    def __init__(self, resources: Mapping[str, Any]) -> None:
        self.resources = resources

    def parameter(self, name: str) -> Any:
        return {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }[name]

    def condition(self, name: str) -> bool:
        return True

    def resource_ref(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        return TOPIC_ARN if kind == "AWS::SNS::Topic" else logical_id.lower()

    def resource_attribute(self, logical_id: str, attribute: str) -> Any:
        kind = self.resources[logical_id]["Type"]
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{logical_id.lower()}"
        if kind == "AWS::KMS::Key" and attribute == "Arn":
            return KEY_ARN
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{ACCOUNT}:role/{logical_id.lower()}"
        if kind == "AWS::Logs::LogGroup" and attribute == "Arn":
            return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{logical_id.lower()}:*"
        return f"arn:aws:{kind.split('::')[1].lower()}:{REGION}:{ACCOUNT}:{logical_id.lower()}"

    def import_value(self, name: str) -> str:
        return self.stack_output("", name, None)

    def stack_output(self, stack: str, output: str, region: str | None) -> str:
        if "Key" in output:
            return KEY_ARN
        return TRAIL_BUCKET if "TrailBucket" in output else output

    def mapping(self) -> Mapping[str, Any]:
        return {}

    def availability_zones(self, region: str) -> list[str]:
        return [f"{region}a"]


@functools.cache
def _outdir() -> Path:
    root = Path(tempfile.mkdtemp(prefix="kmslab-cloud-kit-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return synthesize_kit(root / "cdk.out", {"account": ACCOUNT, "region": REGION})


def template(stack: str) -> dict[str, Any]:
    """Return one of the kit's templates (``KmslabTrail``...), as synthesized."""
    loaded: dict[str, Any] = json.loads((_outdir() / f"{stack}.template.json").read_text())
    return loaded


def resource(stack: str, kind: str, logical_prefix: str = "") -> dict[str, Any]:
    """Return the resolved Properties of the one resource of ``kind`` (and logical-ID prefix) in a stack."""
    resources = template(stack)["Resources"]
    found = [rid for rid, r in resources.items() if r["Type"] == kind and rid.startswith(logical_prefix)]
    assert len(found) == 1, f"{stack}: {kind} {logical_prefix!r} matches {found}"
    resolved: dict[str, Any] = Evaluator(_Scope(resources)).resolve(resources[found[0]]["Properties"])
    return resolved


def resource_name(logical_id: str) -> str:
    """The physical name the scope gives a resource."""
    return logical_id.lower()
