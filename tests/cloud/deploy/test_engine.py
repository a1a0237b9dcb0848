"""The deploy engine creates, updates, rolls back and deletes stacks as CloudFormation does."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from kmslab.cloud.deploy.engine import Deployer, Environment, StackEvent
from kmslab.cloud.deploy.errors import DeployError, ResourceFailed, TemplateError
from kmslab.cloud.deploy.resources import NeedsReplacement, ProvisionContext, Provisioned, Registry
from kmslab.cloud.deploy.state import StackStore
from kmslab.cloud.deploy.template import Template


class Things:
    """A fake service: things with properties; 'Fail' makes create fail; 'Name' cannot change in place."""

    type_name = "Test::Thing"
    served = "enforced"
    note = "a fake"

    def __init__(self) -> None:
        self.live: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self._n = 0

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        if properties.get("Fail"):
            raise ValueError(f"the service refused {ctx.logical_id}: {properties['Fail']}")
        self._n += 1
        pid = f"{ctx.logical_id}-{self._n}"
        self.live[pid] = dict(properties)
        self.calls.append(("create", pid))
        return Provisioned(pid, {"Arn": f"arn:test:{ctx.region}:{pid}"})

    def update(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        if old.get("Name") != new.get("Name"):
            raise NeedsReplacement
        if new.get("Fail"):
            raise ValueError("update refused")
        self.live[physical_id] = dict(new)
        self.calls.append(("update", physical_id))
        return Provisioned(physical_id, {"Arn": f"arn:test:{ctx.region}:{physical_id}"})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        self.live.pop(physical_id, None)
        self.calls.append(("delete", physical_id))


@pytest.fixture
def things() -> Things:
    return Things()


@pytest.fixture
def events() -> list[StackEvent]:
    return []


@pytest.fixture
def deployer(tmp_path: Path, things: Things, events: list[StackEvent]) -> Deployer:
    ssm = {"/cdk-bootstrap/hnb659fds/version": "30"}

    def parameter(name: str, region: str) -> str:
        return ssm[name]

    env = Environment(account="111122223333", region="us-east-1", client=lambda s, r: None, ssm_parameter=parameter)
    return Deployer(StackStore(tmp_path / "stacks"), Registry([things]), env, on_event=events.append)


def tpl(resources: dict[str, Any], **sections: Any) -> Template:
    return Template.parse({"Resources": resources, **sections})


def statuses(events: list[StackEvent]) -> list[tuple[str, str]]:
    return [(e.logical_id, e.status) for e in events]


def test_create_follows_dependencies_and_reports_each_resource(
    deployer: Deployer, things: Things, events: list[StackEvent]
) -> None:
    template = tpl(
        {
            "B": {"Type": "Test::Thing", "Properties": {"Peer": {"Fn::GetAtt": ["A", "Arn"]}}},
            "A": {"Type": "Test::Thing", "Properties": {"Name": "a"}},
        },
        Outputs={"AArn": {"Value": {"Fn::GetAtt": ["A", "Arn"]}, "Export": {"Name": "S:AArn"}}},
    )
    record = deployer.deploy("S", template)
    assert record.status == "CREATE_COMPLETE"
    assert statuses(events) == [
        ("S", "CREATE_IN_PROGRESS"),
        ("A", "CREATE_IN_PROGRESS"),
        ("A", "CREATE_COMPLETE"),
        ("B", "CREATE_IN_PROGRESS"),
        ("B", "CREATE_COMPLETE"),
        ("S", "CREATE_COMPLETE"),
    ]
    a_arn = record.resources["A"].attributes["Arn"]
    assert things.live[record.resources["B"].physical_id]["Peer"] == a_arn
    assert record.outputs["AArn"] == {"value": a_arn, "export": "S:AArn"}


def test_a_failed_create_rolls_back_everything_it_made(
    deployer: Deployer, things: Things, events: list[StackEvent], tmp_path: Path
) -> None:
    template = tpl(
        {
            "A": {"Type": "Test::Thing", "Properties": {}},
            "B": {"Type": "Test::Thing", "Properties": {"Fail": "no room"}, "DependsOn": "A"},
        }
    )
    with pytest.raises(ResourceFailed, match="B \\(Test::Thing\\): the service refused B: no room"):
        deployer.deploy("S", template)
    assert things.live == {}
    assert ("B", "CREATE_FAILED") in statuses(events)
    assert statuses(events)[-3:] == [("A", "DELETE_IN_PROGRESS"), ("A", "DELETE_COMPLETE"), ("S", "ROLLBACK_COMPLETE")]
    assert StackStore(tmp_path / "stacks").get("us-east-1", "S") is None


def test_an_unserved_type_is_create_failed_naming_it(deployer: Deployer, events: list[StackEvent]) -> None:
    with pytest.raises(ResourceFailed, match="Odd::Thing"):
        deployer.deploy("S", tpl({"X": {"Type": "Odd::Thing"}}))
    failed = [e for e in events if e.status == "CREATE_FAILED"]
    assert failed[0].reason == "is not a resource type the local cloud serves"


def test_update_touches_only_what_changed(deployer: Deployer, things: Things) -> None:
    base = {
        "A": {"Type": "Test::Thing", "Properties": {"Name": "a", "Size": 1}},
        "B": {"Type": "Test::Thing", "Properties": {"Name": "b"}},
        "C": {"Type": "Test::Thing", "Properties": {"Name": "c"}},
    }
    first = deployer.deploy("S", tpl(base))
    things.calls.clear()
    changed = {
        "A": {"Type": "Test::Thing", "Properties": {"Name": "a", "Size": 2}},  # in place
        "B": {"Type": "Test::Thing", "Properties": {"Name": "b2"}},  # replaced
        "D": {"Type": "Test::Thing", "Properties": {}},  # new; C is gone
    }
    second = deployer.deploy("S", tpl(changed))
    assert second.status == "UPDATE_COMPLETE"
    a, b, c = (first.resources[x].physical_id for x in "ABC")
    assert ("update", a) in things.calls and things.live[a]["Size"] == 2
    assert second.resources["B"].physical_id != b and b not in things.live
    assert c not in things.live and "C" not in second.resources
    assert set(second.resources) == {"A", "B", "D"}


def test_an_unchanged_deploy_changes_nothing(deployer: Deployer, things: Things) -> None:
    template = tpl({"A": {"Type": "Test::Thing", "Properties": {"Name": "a"}}})
    deployer.deploy("S", template)
    things.calls.clear()
    assert deployer.deploy("S", template).status == "UPDATE_COMPLETE"
    assert things.calls == []


def test_a_failed_update_restores_the_old_properties(
    deployer: Deployer, things: Things, events: list[StackEvent], tmp_path: Path
) -> None:
    deployer.deploy("S", tpl({"A": {"Type": "Test::Thing", "Properties": {"Name": "a", "Size": 1}}}))
    bad = tpl(
        {
            "A": {"Type": "Test::Thing", "Properties": {"Name": "a", "Size": 2}},
            "B": {"Type": "Test::Thing", "Properties": {"Fail": "quota"}, "DependsOn": "A"},
        }
    )
    with pytest.raises(ResourceFailed):
        deployer.deploy("S", bad)
    record = StackStore(tmp_path / "stacks").get("us-east-1", "S")
    assert record is not None and record.status == "UPDATE_ROLLBACK_COMPLETE"
    assert [p["Size"] for p in things.live.values()] == [1]
    assert events[-1].status == "UPDATE_ROLLBACK_COMPLETE"


def test_destroy_keeps_retained_resources(deployer: Deployer, things: Things, events: list[StackEvent]) -> None:
    template = tpl(
        {
            "Kept": {"Type": "Test::Thing", "Properties": {}, "DeletionPolicy": "Retain"},
            "Gone": {"Type": "Test::Thing", "Properties": {"Peer": {"Ref": "Kept"}}},
        }
    )
    record = deployer.deploy("S", template)
    deployer.destroy("S")
    assert list(things.live) == [record.resources["Kept"].physical_id]
    assert ("Kept", "DELETE_SKIPPED") in statuses(events)
    # dependants go first
    order = [e.logical_id for e in events if e.status == "DELETE_IN_PROGRESS" and e.logical_id != "S"]
    assert order == ["Gone"]


def test_an_export_in_use_cannot_be_deleted(deployer: Deployer) -> None:
    producer = tpl(
        {"A": {"Type": "Test::Thing", "Properties": {}}},
        Outputs={"Out": {"Value": {"Ref": "A"}, "Export": {"Name": "P:Out"}}},
    )
    deployer.deploy("P", producer)
    deployer.deploy("C", tpl({"B": {"Type": "Test::Thing", "Properties": {"Peer": {"Fn::ImportValue": "P:Out"}}}}))
    with pytest.raises(DeployError, match="Export P:Out cannot be deleted as it is in use by C"):
        deployer.destroy("P")
    deployer.destroy("C")
    deployer.destroy("P")


def test_conditions_and_parameters(deployer: Deployer, things: Things) -> None:
    template = tpl(
        {
            "Always": {"Type": "Test::Thing", "Properties": {"Env": {"Ref": "Env"}}},
            "ProdOnly": {"Type": "Test::Thing", "Condition": "IsProd"},
        },
        Parameters={"Env": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]}},
        Conditions={"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
    )
    assert set(deployer.deploy("S", template).resources) == {"Always"}
    record = deployer.deploy("S", template, {"Env": "prod"})
    assert set(record.resources) == {"Always", "ProdOnly"}
    with pytest.raises(TemplateError, match="must be one of AllowedValues"):
        deployer.deploy("S", template, {"Env": "qa"})


def test_the_cdk_bootstrap_rule_reads_ssm(deployer: Deployer, things: Things) -> None:
    rule = {
        "CheckBootstrapVersion": {
            "Assertions": [
                {
                    "Assert": {"Fn::Not": [{"Fn::Contains": [["1", "2", "3", "4", "5"], {"Ref": "BootstrapVersion"}]}]},
                    "AssertDescription": "CDK bootstrap stack version 6 required.",
                }
            ]
        }
    }
    params = {
        "BootstrapVersion": {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": "/cdk-bootstrap/hnb659fds/version",
        }
    }
    body = {"A": {"Type": "Test::Thing", "Properties": {}}}
    assert deployer.deploy("S", tpl(body, Rules=rule, Parameters=params)).parameters["BootstrapVersion"] == "30"
    old = {"BootstrapVersion": {"Type": "String", "Default": "5"}}
    with pytest.raises(TemplateError, match="CDK bootstrap stack version 6 required"):
        deployer.deploy("T", tpl(body, Rules=rule, Parameters=old))
    assert not any(p.startswith("A-") and "T" in p for p in things.live)


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            {
                "A": {"Type": "Test::Thing", "Properties": {"X": {"Ref": "B"}}},
                "B": {"Type": "Test::Thing", "Properties": {"Y": {"Fn::GetAtt": ["A", "Arn"]}}},
            },
            "Circular dependency between resources: A -> B -> A",
        ),
        (
            {"A": {"Type": "Test::Thing", "Properties": {"X": {"Ref": "Nope"}}}},
            r"Unresolved resource dependencies \[Nope\]",
        ),
        ({"A": {"Type": "Test::Thing", "DependsOn": "Nope"}}, r"Unresolved resource dependencies \[Nope\] in A"),
        ({"A-1": {"Type": "Test::Thing"}}, "non alphanumeric"),
        ({"A": {"Properties": {}}}, "must contain a Type"),
    ],
)
def test_malformed_templates_are_refused_before_anything_is_created(resources: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        tpl(resources)
