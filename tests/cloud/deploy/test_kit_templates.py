"""The kit's own synthesized templates go through the deploy engine: order, references, parameters, rules.

The resources are made by a recording stand-in here (the services' handlers are tested with the local
cloud); what this proves is the template half: every intrinsic the CDK wrote resolves, across stacks too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from kmslab.cloud.deploy.assembly import Assembly
from kmslab.cloud.deploy.engine import Deployer, Environment, StackEvent
from kmslab.cloud.deploy.errors import AssemblyError
from kmslab.cloud.deploy.resources import ProvisionContext, Provisioned, Registry
from kmslab.cloud.deploy.state import StackStore
from tests.assembly import synthesize_kit

POWERTOOLS = "/aws/service/powertools/python/arm64/python3.14/3.37.0"


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    return Assembly.read(
        synthesize_kit(tmp_path_factory.mktemp("kit") / "cdk.out", {"account": "111122223333", "region": "us-east-1"})
    )


def _get_atts(value: Any, found: dict[str, set[str]]) -> None:
    if isinstance(value, list):
        for item in value:
            _get_atts(item, found)
    elif isinstance(value, dict):
        if "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
            lid, attr = value["Fn::GetAtt"]
            found.setdefault(lid, set()).add(attr)
        for item in value.values():
            _get_atts(item, found)


class Recorder:
    """Stands in for every resource type, giving each the attributes the templates ask of it."""

    served = "stored only"
    note = "test stand-in"

    def __init__(
        self, type_name: str, attributes: Mapping[str, set[str]], made: list[tuple[str, str, dict[str, Any]]]
    ) -> None:
        self.type_name = type_name
        self._attributes = attributes
        self._made = made

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        pid = f"{ctx.stack_name}-{ctx.logical_id}".lower()
        self._made.append((ctx.stack_name, ctx.logical_id, dict(properties)))
        attrs = {
            a: f"arn:aws:test:{ctx.region}:{ctx.account}:{pid}/{a}" for a in self._attributes.get(ctx.logical_id, ())
        }
        return Provisioned(pid, attrs)

    def update(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        raise AssertionError("not updated in this test")

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        self._made.append((ctx.stack_name, ctx.logical_id, {"deleted": physical_id}))


def test_the_kit_deploys_in_dependency_order_with_every_reference_resolved(assembly: Assembly, tmp_path: Path) -> None:
    names = [s.name for s in assembly.stacks]
    assert names[0] == "KmslabKeys" and set(names) == {
        "KmslabKeys",
        "KmslabStorage",
        "KmslabTrail",
        "KmslabAnalytics",
        "KmslabAlerting",
    }
    attributes: dict[str, set[str]] = {}
    types: set[str] = set()
    for stack in assembly.stacks:
        template = stack.template()
        _get_atts(template.body, attributes)
        types |= {r.type for r in template.resources.values()}
    made: list[tuple[str, str, dict[str, Any]]] = []
    registry = Registry([Recorder(t, attributes, made) for t in types])
    ssm = {
        "/cdk-bootstrap/hnb659fds/version": "30",
        POWERTOOLS: "arn:aws:lambda:us-east-1:111122223333:layer:powertools:1",
    }
    env = Environment(
        account="111122223333", region="us-east-1", client=lambda s, r: None, ssm_parameter=lambda n, r: ssm[n]
    )
    events: list[StackEvent] = []
    deployer = Deployer(StackStore(tmp_path), registry, env, on_event=events.append)
    for stack in assembly.stacks:
        record = deployer.deploy(stack.name, stack.template(), region=stack.region)
        assert record.status == "CREATE_COMPLETE"
    done = {(e.stack, e.logical_id) for e in events if e.status == "CREATE_COMPLETE"}
    assert len(done) == len(made) + len(assembly.stacks)
    # a consumer got the producer's real value through the cross-stack reference
    data_key = next(
        p for s, lid, p in made if s == "KmslabStorage" and lid.startswith("DataBucket") and "BucketEncryption" in p
    )
    rule = data_key["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"].startswith(
        "arn:aws:test:us-east-1:111122223333:kmslabkeys-datakey"
    )
    layers = [p.get("Layers") for s, lid, p in made if s == "KmslabAlerting" and p.get("Layers")]
    assert layers and all(ls == [ssm[POWERTOOLS]] for ls in layers)
    # the Lambda code is an asset of the assembly
    code = next(p["Code"] for s, lid, p in made if "Code" in p and "S3Key" in p["Code"])
    asset = assembly.asset(code["S3Key"])
    assert asset is not None and asset.packaging == "zip" and asset.path.is_dir()
    assert {p.name for p in asset.path.iterdir()} >= {"kms_events"}


def test_selecting_an_unknown_stack_names_the_known_ones(assembly: Assembly) -> None:
    with pytest.raises(AssemblyError, match="No stack found matching 'Nope'; the assembly has KmslabAlerting"):
        assembly.select(["Nope"])
    assert [s.name for s in assembly.select(["KmslabTrail", "KmslabKeys"])] == ["KmslabKeys", "KmslabTrail"]


def test_a_missing_assembly_says_to_synthesize(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match="run 'make synth' first"):
        Assembly.read(tmp_path)
