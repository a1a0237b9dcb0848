"""Issue 13: what a real deploy needs, checked on the synthesized templates (Match/Capture, decisions offline)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match

from kmslab.audit.schema import INPUT_FORMAT, SERDE
from kmslab.kms.policy import evaluate_policy, parse_policy
from kmslab.kms.seams import Caller
from tests.stacks.conftest import ACCOUNT, REGION, REPLICA_REGION, Synthesized, cfn, resource

KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET_ARN = "arn:aws:s3:::kmslab-data"


def _encryption_rule(synth: Synthesized, stack: str, bucket: Any) -> dict[str, Any]:
    props = resource(synth.templates[stack], cfn(bucket))["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    found: dict[str, Any] = rule
    return found


# -- item 1: the trail bucket has no Bucket Key, so CloudTrail needs no kms:Decrypt to create the trail ---------


def test_trail_bucket_has_no_bucket_key_or_cloudtrail_may_decrypt(default_synth: Synthesized) -> None:
    rule = _encryption_rule(default_synth, "trail", default_synth.kit.trail.trail_bucket)
    assert rule.get("BucketKeyEnabled") is not True
    # The other kit buckets keep their Bucket Key (the results' encryption context relies on it).
    assert _encryption_rule(default_synth, "storage", default_synth.kit.storage.data_bucket)["BucketKeyEnabled"]
    assert _encryption_rule(default_synth, "analytics", default_synth.kit.analytics.results_bucket)["BucketKeyEnabled"]


# -- item 6: AWS's current CloudTrail table -------------------------------------------------------------------


def test_table_uses_the_hive_json_serde_with_the_cloudtrail_input_format(default_synth: Synthesized) -> None:
    default_synth.templates["analytics"].has_resource_properties(
        "AWS::Glue::Table",
        {
            "TableInput": {
                "StorageDescriptor": {
                    "InputFormat": "com.amazon.emr.cloudtrail.CloudTrailInputFormat",
                    "SerdeInfo": {"SerializationLibrary": "org.apache.hive.hcatalog.data.JsonSerDe"},
                }
            }
        },
    )
    assert (SERDE, INPUT_FORMAT) == (
        "org.apache.hive.hcatalog.data.JsonSerDe",
        "com.amazon.emr.cloudtrail.CloudTrailInputFormat",
    )


# -- item 7: the replica Region is seen ----------------------------------------------------------------------


def test_the_table_projects_a_region_partition_over_the_kits_regions(
    default_synth: Synthesized, full_synth: Synthesized
) -> None:
    for synth, regions in ((default_synth, REGION), (full_synth, f"{REGION},{REPLICA_REGION}")):
        params, partitions = Capture(), Capture()
        synth.templates["analytics"].has_resource_properties(
            "AWS::Glue::Table", {"TableInput": {"Parameters": params, "PartitionKeys": partitions}}
        )
        assert params.as_object()["projection.region.type"] == "enum"
        assert params.as_object()["projection.region.values"] == regions
        template = json.dumps(params.as_object()["storage.location.template"])
        assert "/CloudTrail/${region}/${timestamp}" in template
        assert [p["Name"] for p in partitions.as_array()] == ["region", "timestamp"]


def test_the_replica_region_forwards_kms_alert_events_to_the_home_bus(full_synth: Synthesized) -> None:
    template = full_synth.templates["key_replica"]
    home_bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    rules = template.find_resources("AWS::Events::Rule")
    assert len(rules) == 2
    targets = [t for r in rules.values() for t in r["Properties"]["Targets"]]
    assert all(json.dumps(t["Arn"]).replace('"', "").find(f"events:{REGION}:") >= 0 for t in targets)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
            "EventPattern": {"detail": {"errorMessage": [{"suffix": "is pending deletion."}]}},
        },
    )
    statements = Capture()
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": statements}})
    (statement,) = statements.as_array()
    assert statement["Action"] == "events:PutEvents"
    resource_text = json.dumps(statement["Resource"]).replace('"', "").replace(",", "")
    assert f":events:{REGION}:{ACCOUNT}:event-bus/default" in resource_text
    assert home_bus.endswith(":event-bus/default")


# -- item 8: strong references within a Region ---------------------------------------------------------------


def test_references_within_a_region_are_strong_exports(default_synth: Synthesized, full_synth: Synthesized) -> None:
    for synth in (default_synth, full_synth):
        for name, template in synth.templates.items():
            text = json.dumps(template.to_json())
            assert "Fn::GetStackOutput" not in text, name
    analytics = json.dumps(default_synth.templates["analytics"].to_json())
    assert "Fn::ImportValue" in analytics  # the trail bucket and the audit key come from their stacks' exports
    assert default_synth.kit.keys in default_synth.kit.analytics.dependencies


# -- item 9: the data bucket's encryption policy, decided offline ----------------------------------------------


@pytest.fixture(scope="module")
def data_bucket_policy(default_synth: Synthesized) -> Any:
    storage = default_synth.kit.storage
    policy = storage.data_bucket.policy
    assert policy is not None
    document = resource(default_synth.templates["storage"], cfn(policy))["Properties"]["PolicyDocument"]
    bucket_id = storage.get_logical_id(cfn(storage.data_bucket))

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if value == {"Fn::GetAtt": [bucket_id, "Arn"]}:
            return BUCKET_ARN
        if set(value) in ({"Fn::ImportValue"}, {"Fn::GetStackOutput"}):
            return KEY_ARN  # the data key's ARN, the policy's one cross-stack reference
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(resolve(p)) for p in parts)
        return {k: resolve(v) for k, v in value.items()}

    return parse_policy(resolve(document))


def _denied(policy: Any, headers: dict[str, str]) -> bool:
    caller = Caller(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/kmslab-key-user/s", account=ACCOUNT)
    context = {"aws:securetransport": True, **{f"s3:{k}".lower(): v for k, v in headers.items()}}
    result = evaluate_policy(
        policy, source="bucket", caller=caller, action="s3:PutObject", resource=f"{BUCKET_ARN}/k", context=context
    )
    return bool(result.denies)


SSE, KEY_ID = "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id"


@pytest.mark.parametrize(
    ("headers", "denied"),
    [
        ({}, False),  # default encryption applies: SSE-KMS with the data key
        ({SSE: "aws:kms", KEY_ID: KEY_ARN}, False),
        ({SSE: "aws:kms"}, True),  # S3 would use aws/s3, not the data key
        ({SSE: "AES256"}, True),
        ({SSE: "aws:kms:dsse", KEY_ID: KEY_ARN}, True),
        ({SSE: "aws:kms", KEY_ID: "arn:aws:kms:us-east-1:444455556666:key/other"}, True),
        ({SSE: "aws:kms", KEY_ID: "alias/kmslab/data"}, True),  # full ARN only (README, guide)
        ({SSE: "aws:kms", KEY_ID: "1234abcd-12ab-34cd-56ef-1234567890ab"}, True),
    ],
)
def test_uploads_may_ask_only_for_the_data_key_by_its_arn(
    data_bucket_policy: Any, headers: dict[str, str], denied: bool
) -> None:
    assert _denied(data_bucket_policy, headers) is denied


def test_every_kit_kms_bucket_blocks_sse_c(default_synth: Synthesized) -> None:
    kit = default_synth.kit
    for stack, bucket in (
        ("storage", kit.storage.data_bucket),
        ("trail", kit.trail.trail_bucket),
        ("analytics", kit.analytics.results_bucket),
    ):
        assert _encryption_rule(default_synth, stack, bucket)["BlockedEncryptionTypes"] == {"EncryptionType": ["SSE-C"]}


# -- item 11: every rotating key follows rotation_period_days ---------------------------------------------------


def test_every_rotating_key_follows_the_rotation_period(default_synth: Synthesized, full_synth: Synthesized) -> None:
    for synth, days in ((default_synth, 365), (full_synth, 180)):
        for name, template in synth.templates.items():
            for key in template.find_resources("AWS::KMS::Key", {"Properties": {"EnableKeyRotation": True}}).values():
                assert key["Properties"].get("RotationPeriodInDays") == days, name
        synth.templates["alerting"].has_resource_properties(
            "AWS::KMS::Key",
            {
                "EnableKeyRotation": True,
                "RotationPeriodInDays": days,
                "Description": Match.string_like_regexp("alerting"),
            },
        )
