"""AWS's checks at deploy time, and CloudFormation's update and rollback, against the real local services.

The engine's own tests (``tests/cloud/deploy/test_engine.py``) prove update-in-place and rollback with a
recording stand-in; here the same happens to the deployed kit through KMS and S3, whose checks decide.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from kmslab.cloud.deploy import Assembly, ResourceFailed, Template
from tests.integration.kit import Kit


def _lines(kit: Kit) -> tuple[Any, list[str]]:
    lines: list[str] = []
    return kit.deployer(lines.append), lines


def _statuses(lines: list[str]) -> list[tuple[str, str]]:
    """(logical id, status) of each event line ``stack | time | status | type | logical id [reason]``."""
    out = []
    for line in lines:
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 5:
            out.append((parts[4].split(" ", 1)[0], parts[2]))
    return out


def test_a_bucket_policy_naming_a_principal_that_does_not_exist_fails_and_rolls_back(kit: Kit) -> None:
    account = kit.account
    template = {
        "Resources": {
            "Probe": {"Type": "AWS::S3::Bucket"},
            "ProbePolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": {"Ref": "Probe"},
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{account}:role/no-such-role"},
                                "Action": "s3:GetObject",
                                "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Probe", "Arn"]}, "/*"]]},
                            }
                        ],
                    },
                },
            },
        }
    }
    deployer, lines = _lines(kit)
    with pytest.raises(ResourceFailed) as exc:
        deployer.deploy("ProbeBadPrincipal", Template.parse(template))
    assert exc.value.logical_id == "ProbePolicy"
    [failed] = [line for line in lines if "CREATE_FAILED" in line]
    # S3's answer, as CloudFormation reports it: "Invalid principal in policy (Service: MalformedPolicy)"
    assert "Invalid principal in policy" in failed and "MalformedPolicy" in failed
    statuses = _statuses(lines)
    assert statuses[statuses.index(("ProbePolicy", "CREATE_FAILED")) :] == [
        ("ProbePolicy", "CREATE_FAILED"),
        ("ProbeBadPrincipal", "ROLLBACK_IN_PROGRESS"),
        ("Probe", "DELETE_IN_PROGRESS"),
        ("Probe", "DELETE_COMPLETE"),
        ("ProbeBadPrincipal", "ROLLBACK_COMPLETE"),
    ]
    buckets = [b["Name"] for b in kit.client("s3").list_buckets()["Buckets"]]
    assert not [b for b in buckets if b.startswith("probebadprincipal-probe-")]  # the bucket was deleted again
    # the same template naming a principal that exists deploys
    statement = template["Resources"]["ProbePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    statement["Principal"] = {"AWS": f"arn:aws:iam::{account}:role/kmslab-key-user"}
    record = deployer.deploy("ProbeBadPrincipal", Template.parse(template))
    assert record.status == "CREATE_COMPLETE"
    deployer.destroy("ProbeBadPrincipal")


@pytest.fixture
def keys_template(kit: Kit, default_assembly: Assembly) -> Iterator[dict[str, Any]]:
    """The deployed KmslabKeys template (a copy to edit); the stack is deployed as synthesized again after."""
    [stack] = [s for s in default_assembly.stacks if s.name == "KmslabKeys"]
    original = stack.template()
    yield copy.deepcopy(dict(original.body))
    kit.deployer(lambda line: None).deploy("KmslabKeys", original)


def _logical(kit: Kit, prefix: str) -> str:
    return str(kit.record("KmslabKeys", prefix, "AWS::KMS::Key").logical_id)


def test_a_second_deploy_updates_in_place_only_what_differs(kit: Kit, keys_template: dict[str, Any]) -> None:
    data_key = _logical(kit, "DataKey")
    before = {lid: r.physical_id for lid, r in kit.stacks["KmslabKeys"].resources.items()}
    keys_template["Resources"][data_key]["Properties"]["RotationPeriodInDays"] = 180
    deployer, lines = _lines(kit)
    record = deployer.deploy("KmslabKeys", Template.parse(keys_template))
    assert record.status == "UPDATE_COMPLETE"
    touched = {lid for lid, status in _statuses(lines) if status.startswith("UPDATE_") and lid != "KmslabKeys"}
    assert touched == {data_key}
    assert {lid: r.physical_id for lid, r in record.resources.items()} == before  # in place: same key
    assert kit.client("kms").get_key_rotation_status(KeyId=before[data_key])["RotationPeriodInDays"] == 180
    # deployed again unchanged: nothing is touched
    deployer, lines = _lines(kit)
    deployer.deploy("KmslabKeys", Template.parse(keys_template))
    assert [s for s in _statuses(lines) if s[0] != "KmslabKeys"] == []


def test_a_failed_update_rolls_back_what_it_changed(kit: Kit, keys_template: dict[str, Any]) -> None:
    data_key, audit_key = _logical(kit, "DataKey"), _logical(kit, "AuditKey")
    order = Template.parse(keys_template).creation_order()
    first, second = sorted((data_key, audit_key), key=order.index)
    keys_template["Resources"][first]["Properties"]["RotationPeriodInDays"] = 180
    # a key policy that no longer lets the deploying principal manage the key: KMS's lockout safety check refuses it
    policy = keys_template["Resources"][second]["Properties"]["KeyPolicy"]
    locked = ("EnableIamPolicies", "AllowKeyAdministration")
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") not in locked]
    deployer, lines = _lines(kit)
    with pytest.raises(ResourceFailed) as exc:
        deployer.deploy("KmslabKeys", Template.parse(keys_template))
    assert exc.value.logical_id == second and "MalformedPolicyDocument" in exc.value.reason
    statuses = _statuses(lines)
    assert (second, "UPDATE_FAILED") in statuses
    assert statuses[-1] == ("KmslabKeys", "UPDATE_ROLLBACK_COMPLETE")
    first_id = kit.stacks["KmslabKeys"].resources[first].physical_id
    assert kit.client("kms").get_key_rotation_status(KeyId=first_id)["RotationPeriodInDays"] == 365
    second_id = kit.stacks["KmslabKeys"].resources[second].physical_id
    kept = kit.client("kms").get_key_policy(KeyId=second_id, PolicyName="default")["Policy"]
    assert "EnableIamPolicies" in kept and "AllowKeyAdministration" in kept
