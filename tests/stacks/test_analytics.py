"""AnalyticsStack: the Glue table from the schema, the workgroup's enforced settings, the named queries, cdk-nag."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Capture, Match, Template
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from kmslab.audit.queries import load_queries
from kmslab.audit.schema import COLUMNS, INPUT_FORMAT, SERDE
from stacks.analytics import DEFAULT_BYTES_SCANNED_CUTOFF, AnalyticsStack
from stacks.config import KitConfig
from tests.stacks.conftest import cdk_json_context

pytestmark = pytest.mark.infra


def Config(**settings: object) -> KitConfig:  # noqa: N802 - reads like the value object it builds
    """Kit settings for these tests."""
    return KitConfig(**settings)  # type: ignore[arg-type]


@dataclass
class Built:
    app: cdk.App
    helper: cdk.Stack
    stack: AnalyticsStack
    template: Template


def build(*, nag: bool = False, analyst: bool = False, **kwargs: object) -> Built:
    app = cdk.App(outdir=tempfile.mkdtemp(prefix="kmslab-analytics-"), context=cdk_json_context())
    helper = cdk.Stack(app, "Keys")
    key = kms.Key(helper, "AuditKey", enable_key_rotation=True)
    bucket = s3.Bucket(
        helper,
        "TrailBucket",
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        versioned=True,
    )
    for rule in (
        "AwsSolutions::AwsSolutions-S1",
        "NIST.800.53.R5::NIST.800.53.R5-S3BucketLoggingEnabled",
        "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled",
    ):
        # the stub trail bucket stands in for the trail stack's; it is not under test here
        cdk.Validations.of(bucket).acknowledge(
            cdk.Acknowledgment(id=rule, reason="A stub for the trail stack's bucket.")
        )
    stack = AnalyticsStack(app, "Analytics", config=Config(), trail_bucket=bucket, audit_key=key, **kwargs)  # type: ignore[arg-type]
    if analyst:
        stack.grant_query(roles=[iam.Role(helper, "Analyst", assumed_by=iam.AccountRootPrincipal())])
    if nag:
        cdk.Validations.of(stack).add_plugins(AwsSolutionsChecks(stack), NIST80053R5Checks(stack))
    return Built(app, helper, stack, Template.from_stack(stack))


@pytest.fixture(scope="module")
def built() -> Built:
    return build()


def _resolved_join(value: object) -> str:
    """Flatten an Fn::Join (or a plain string) into text with ${Token} markers for the references."""
    if isinstance(value, str):
        return value
    assert isinstance(value, dict)
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_resolved_join(p) for p in parts)
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::ImportValue" in value or "Fn::GetStackOutput" in value:
        return "${Import}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"unexpected intrinsic {value}")


def test_table_has_projection_in_table_parameters_and_the_cloudtrail_serde(built: Built) -> None:
    table_input = Capture()
    built.template.has_resource_properties("AWS::Glue::Table", {"TableInput": table_input})
    value = table_input.as_object()
    parameters = value["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.timestamp.type"] == "date"
    assert parameters["projection.timestamp.format"] == "yyyy/MM/dd"
    assert parameters["projection.timestamp.interval"] == "1"
    assert parameters["projection.timestamp.interval.unit"] == "DAYS"
    assert parameters["projection.timestamp.range"] == "2024/01/01,NOW"
    template = _resolved_join(parameters["storage.location.template"])
    assert template == "s3://${Import}/AWSLogs/${AWS::AccountId}/CloudTrail/${region}/${timestamp}"
    assert parameters["projection.region.type"] == "enum"
    assert parameters["projection.region.values"] == "us-east-1"
    assert value["PartitionKeys"] == [{"Name": "region", "Type": "string"}, {"Name": "timestamp", "Type": "string"}]
    storage = value["StorageDescriptor"]
    assert "Parameters" not in storage or not any(k.startswith("projection.") for k in storage["Parameters"])
    assert storage["InputFormat"] == INPUT_FORMAT
    assert storage["SerdeInfo"]["SerializationLibrary"] == SERDE
    assert [c["Name"] for c in storage["Columns"]] == [c.name for c in COLUMNS]
    types = {c["Name"]: c["Type"] for c in storage["Columns"]}
    assert types["resources"] == "array<struct<arn:string,accountid:string,type:string>>"
    assert types["useridentity"].startswith(
        "struct<type:string,principalid:string,arn:string,accountid:string,invokedby"
    )
    assert _resolved_join(storage["Location"]) == "s3://${Import}/AWSLogs/${AWS::AccountId}/CloudTrail"


def test_table_location_points_at_the_trail_bucket(built: Built) -> None:
    location = Capture()
    built.template.has_resource_properties(
        "AWS::Glue::Table", {"TableInput": {"StorageDescriptor": {"Location": location}}}
    )
    exports = built.helper.resolve(built.stack.trail_bucket.bucket_name)
    assert exports == {"Ref": built.helper.get_logical_id(built.stack.trail_bucket.node.default_child)}
    assert "Fn::GetStackOutput" in str(location.as_object()) or "Fn::ImportValue" in str(location.as_object())


def test_workgroup_enforces_encrypted_results_and_a_scan_cutoff(built: Built) -> None:
    key_arn = built.stack.resolve(built.stack.audit_key.key_arn)
    built.template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "State": "ENABLED",
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "BytesScannedCutoffPerQuery": DEFAULT_BYTES_SCANNED_CUTOFF,
                "ResultConfiguration": {
                    "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": key_arn},
                    "OutputLocation": Match.any_value(),
                },
            },
        },
    )


def test_results_bucket_is_kms_encrypted_private_tls_only_versioned_and_logged(built: Built) -> None:
    key_arn = built.stack.resolve(built.stack.audit_key.key_arn)
    built.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "LoggingConfiguration": {"DestinationBucketName": Match.any_value()},
        },
    )
    built.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_every_sql_file_became_a_named_query_for_the_real_table(built: Built) -> None:
    named = built.template.find_resources("AWS::Athena::NamedQuery")
    by_name = {r["Properties"]["Name"]: r for r in named.values()}
    queries = load_queries()
    assert set(by_name) == {q.name for q in queries}
    workgroup_id = built.stack.get_logical_id(built.stack.workgroup)
    for query in queries:
        resource = by_name[query.name]
        properties = resource["Properties"]
        assert properties["Database"] == "kmslab_audit"
        assert properties["WorkGroup"] == {"Ref": workgroup_id}
        assert properties["Description"] == query.description
        assert "FROM kmslab_audit.cloudtrail_logs" in properties["QueryString"]
        assert "{{" not in properties["QueryString"]
        assert "interval '30' day" in properties["QueryString"]
        # the WorkGroup Ref above is the dependency on the workgroup; the table is an explicit one
        table_id = built.stack.get_logical_id(built.stack.table)
        assert resource["DependsOn"] == [table_id]


def test_grant_query_attaches_one_managed_policy_without_cycles() -> None:
    app = cdk.App(outdir=tempfile.mkdtemp(prefix="kmslab-analytics-"), context=cdk_json_context())
    keys = cdk.Stack(app, "Keys")
    key = kms.Key(keys, "AuditKey", enable_key_rotation=True)
    analyst = iam.Role(keys, "Analyst", assumed_by=iam.AccountRootPrincipal())  # a role of another stack
    trail = cdk.Stack(app, "Trail")
    bucket = s3.Bucket(trail, "TrailBucket", encryption_key=key)
    stack = AnalyticsStack(app, "Analytics", config=Config(), trail_bucket=bucket, audit_key=key)
    stack.grant_query(roles=[analyst])
    app.synth()  # no dependency cycle between the keys, trail and analytics stacks
    template = Template.from_stack(stack)
    statements = Capture()
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": statements}, "Roles": [Match.any_value()]}
    )
    by_sid = {s["Sid"]: s for s in statements.as_array()}
    assert set(by_sid) == {"RunAuditQueries", "ReadTheTable", "ReadWriteResults", "UseTheAuditKeyForResults"}
    assert "athena:StartQueryExecution" in by_sid["RunAuditQueries"]["Action"]
    use_key = by_sid["UseTheAuditKeyForResults"]
    assert use_key["Resource"] == stack.resolve(key.key_arn)
    # only for the results bucket's encryption context (Bucket Key on: the bucket's ARN)
    results_arn = stack.resolve(stack.results_bucket.bucket_arn)
    assert use_key["Condition"] == {"StringEquals": {"kms:EncryptionContext:aws:s3:arn": results_arn}}
    assert all(s["Resource"] != "*" for s in statements.as_array())
    assert not Template.from_stack(keys).find_resources("AWS::IAM::Policy")  # nothing added to the keys stack


def test_names_follow_the_prefix() -> None:
    app = cdk.App(outdir=tempfile.mkdtemp(prefix="kmslab-analytics-"), context=cdk_json_context())
    helper = cdk.Stack(app, "Keys")
    key = kms.Key(helper, "AuditKey", enable_key_rotation=True)
    bucket = s3.Bucket(helper, "TrailBucket")
    stack = AnalyticsStack(app, "Analytics", config=Config(prefix="team-a"), trail_bucket=bucket, audit_key=key)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Glue::Database", {"DatabaseInput": {"Name": "team_a_audit"}})
    template.has_resource_properties("AWS::Athena::WorkGroup", {"Name": "team-a-audit"})
    named = template.find_resources("AWS::Athena::NamedQuery")
    assert all("FROM team_a_audit.cloudtrail_logs" in r["Properties"]["QueryString"] for r in named.values())


def test_cutoff_below_athena_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 10 MB"):
        build(bytes_scanned_cutoff=1_000)


def test_cdk_nag_aws_solutions_and_nist_800_53_r5_pass() -> None:
    built = build(nag=True, analyst=True)
    built.app.synth()  # raises "Validation failed" on any unacknowledged finding
