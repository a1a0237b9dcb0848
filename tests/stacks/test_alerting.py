"""AlertingStack: the synthesized template, its rule patterns against sample events, and cdk-nag."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Capture, Match, Template
from moto import mock_aws

from kmslab.trail.events import matches
from kmslab.trail.patterns import KEY_DELETION_SCHEDULED, KEY_USE_PENDING_DELETION
from stacks.alerting import (
    ALARM_NAME,
    METRIC_NAME,
    METRIC_NAMESPACE,
    PENDING_DELETION_FILTER_PATTERN,
    POWERTOOLS_VERSION,
    AlertingStack,
    asset_excludes,
)
from stacks.config import KitConfig
from stacks.kit import build_kit
from stacks.nag import apply_nag
from tests.events import event_names, load_event

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]


def Config(**settings: Any) -> KitConfig:  # noqa: N802 - reads like the value object it builds
    """Kit settings for these tests: keys and tables are destroyed with the stack."""
    return KitConfig(removal="destroy", **settings)


@dataclass
class Built:
    app: cdk.App
    stack: AlertingStack
    template: Template


CDK_CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]


def new_app() -> cdk.App:
    """An App with the project's feature flags (cdk.json), synthesizing into a fresh directory."""
    return cdk.App(context=CDK_CONTEXT, outdir=tempfile.mkdtemp(prefix="kmslab-alerting-"))


def build(config: KitConfig, *, with_trail_logs: bool, nag: bool = False) -> Built:
    app = new_app()
    log_group = None
    if with_trail_logs:
        trail = cdk.Stack(app, "Trail")
        key = kms.Key(trail, "TrailKey", enable_key_rotation=True)
        log_group = logs.LogGroup(trail, "TrailLogs", retention=logs.RetentionDays.ONE_YEAR, encryption_key=key)
    stack = AlertingStack(app, "Alerting", config=config, trail_log_group=log_group)
    if nag:
        apply_nag(app)
    return Built(app, stack, Template.from_stack(stack))


@pytest.fixture(scope="module")
def notify() -> Built:
    return build(Config(alert_email="secops@example.com", on_use="notify"), with_trail_logs=True)


@pytest.fixture(scope="module")
def cancel() -> Built:
    return build(Config(alert_email=None, on_use="cancel", trail_cloudwatch_logs=False), with_trail_logs=False)


def functions(built: Built) -> dict[str, dict[str, Any]]:
    found = built.template.find_resources("AWS::Lambda::Function")
    return {props["Properties"]["Handler"].split(".")[0]: props["Properties"] for props in found.values()}


def managed_policy_actions(built: Built, function_handler: str) -> set[str]:
    fn = functions(built)[function_handler]
    role_ref = fn["Role"]["Fn::GetAtt"][0]
    actions: set[str] = set()
    for policy in built.template.find_resources("AWS::IAM::ManagedPolicy").values():
        if {"Ref": role_ref} in policy["Properties"].get("Roles", []):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                listed = statement["Action"]
                actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def rule_pattern(built: Built, description_word: str) -> dict[str, Any]:
    for rule in built.template.find_resources("AWS::Events::Rule").values():
        if description_word in rule["Properties"]["Description"]:
            pattern: dict[str, Any] = rule["Properties"]["EventPattern"]
            return pattern
    raise AssertionError(f"no rule described with {description_word!r}")


# -- the topic and its key -------------------------------------------------------------------


def test_topic_is_encrypted_with_a_rotating_alerts_key_that_services_may_use(notify):
    t = notify.template
    key_id = Capture()
    t.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    key = t.find_resources("AWS::KMS::Key")[key_id.as_string()]["Properties"]
    assert key["EnableKeyRotation"] is True
    statements = {s.get("Sid"): s for s in key["KeyPolicy"]["Statement"]}
    for sid, service in (("AllowCloudWatch", "cloudwatch.amazonaws.com"), ("AllowEventBridge", "events.amazonaws.com")):
        statement = statements[sid]
        assert statement["Principal"] == {"Service": service}
        assert set(statement["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_topic_policy_denies_plain_http_and_lets_only_this_accounts_alarms_publish(notify):
    notify.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
                        Match.object_like(
                            {
                                "Sid": "AllowCloudWatchAlarms",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Condition": Match.object_like(
                                    {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
                                ),
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_email_subscription_only_when_configured(notify, cancel):
    notify.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "secops@example.com"}
    )
    cancel.template.resource_count_is("AWS::SNS::Subscription", 0)


# -- the functions ---------------------------------------------------------------------------


def test_the_layer_runs_the_powertools_release_the_handler_tests_ran() -> None:
    pinned = re.search(r"^aws-lambda-powertools==(\S+)$", (ROOT / "requirements-dev.txt").read_text(), re.M)
    assert pinned is not None
    assert pinned.group(1) == POWERTOOLS_VERSION


def test_functions_run_the_latest_python_on_arm_with_the_powertools_layer(notify):
    found = functions(notify)
    assert set(found) == {"key_use_alert", "deletion_watch"}
    for props in found.values():
        assert props["Runtime"] == "python3.14"
        assert props["Architectures"] == ["arm64"]
        [layer] = props["Layers"]
        # the layer ARN comes from Powertools' public SSM parameter for this runtime, resolved at deploy time
        parameter = notify.template.to_json()["Parameters"][layer["Ref"]]
        assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
        assert parameter["Default"] == f"/aws/service/powertools/python/arm64/python3.14/{POWERTOOLS_VERSION}"
        assert props["DeadLetterConfig"]["TargetArn"]
        assert props["LoggingConfig"]["LogGroup"]
    assert found["key_use_alert"]["Handler"] == "key_use_alert.app.lambda_handler"
    assert found["deletion_watch"]["Handler"] == "deletion_watch.app.lambda_handler"


def test_functions_are_configured_by_environment(notify, cancel):
    use_env = functions(notify)["key_use_alert"]["Environment"]["Variables"]
    assert set(use_env) >= {"ALERT_TOPIC_ARN", "IDEMPOTENCY_TABLE", "ON_USE"}
    assert use_env["ON_USE"] == "notify"
    assert "Ref" in use_env["ALERT_TOPIC_ARN"] and "Ref" in use_env["IDEMPOTENCY_TABLE"]
    assert functions(cancel)["key_use_alert"]["Environment"]["Variables"]["ON_USE"] == "cancel"
    assert "ON_USE" not in functions(notify)["deletion_watch"]["Environment"]["Variables"]


def test_least_privilege_cancel_key_deletion_only_with_the_cancel_option(notify, cancel):
    common = {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sns:Publish",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "sqs:SendMessage",
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:DescribeKey",
        "kms:ListAliases",
    }
    assert managed_policy_actions(notify, "key_use_alert") == common
    assert managed_policy_actions(cancel, "key_use_alert") == common | {"kms:CancelKeyDeletion"}
    assert managed_policy_actions(notify, "deletion_watch") == common | {"cloudtrail:LookupEvents"}
    for built in (notify, cancel):
        built.template.resource_count_is("AWS::IAM::Policy", 0)  # no inline policies
        for role in built.template.find_resources("AWS::IAM::Role").values():
            assert "ManagedPolicyArns" not in role["Properties"]  # no AWS-managed policies


def test_each_function_writes_to_its_own_encrypted_log_group_with_retention(notify):
    groups = notify.template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 2
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 365
        assert "KmsKeyId" in group["Properties"]


def test_dead_letter_queues_are_encrypted_and_tls_only(notify):
    queues = notify.template.find_resources("AWS::SQS::Queue")
    assert len(queues) == 2
    for queue in queues.values():
        assert "KmsMasterKeyId" in queue["Properties"]
    notify.template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_idempotency_table(notify):
    notify.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": Match.object_like({"SSEEnabled": True, "SSEType": "KMS"}),
        },
    )


def test_function_asset_holds_the_handler_and_the_shared_package_only(notify):
    assert "deletion_watch" in asset_excludes("key_use_alert")
    assert "key_use_alert" in asset_excludes("deletion_watch")
    assembly = notify.app.synth()
    for handler, props in functions(notify).items():
        asset_hash = props["Code"]["S3Key"].removesuffix(".zip")
        asset_dir = Path(assembly.directory) / f"asset.{asset_hash}"
        assert {p.name for p in asset_dir.iterdir()} == {handler, "kms_events"}
        assert (asset_dir / handler / "app.py").is_file()
        assert not list(asset_dir.rglob("__pycache__"))
        # The asset alone (plus Powertools and boto3, which the layer and runtime provide) imports cleanly.
        repo = str(Path(__file__).resolve().parents[2])
        keep = f"[p for p in sys.path if p and ('site-packages' in p or not p.startswith({repo!r}))]"
        probe = f"import sys; sys.path[:] = [{str(asset_dir)!r}] + {keep}; "
        probe += f"import {handler}.app as m; print(m.lambda_handler.__name__)"
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "lambda_handler"


# -- the rules -------------------------------------------------------------------------------


def test_key_use_rule_receives_read_only_management_events(notify):
    notify.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
            "EventPattern": {
                "source": ["aws.kms"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {"eventSource": ["kms.amazonaws.com"], "errorMessage": [{"suffix": "is pending deletion."}]},
            },
        },
    )


def test_rule_targets_have_a_dead_letter_queue_and_a_retry_policy(notify):
    rules = notify.template.find_resources("AWS::Events::Rule")
    assert len(rules) == 2
    for rule in rules.values():
        [target] = rule["Properties"]["Targets"]
        assert "Fn::GetAtt" in target["DeadLetterConfig"]["Arn"]
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 21600, "MaximumRetryAttempts": 8}


EXPECTED_MATCHES = {
    "pending deletion": {
        "decrypt_user_pending_deletion",
        "decrypt_s3_pending_deletion",
        "generate_data_key_pending_deletion",
    },
    "scheduled for deletion": {"schedule_key_deletion", "disable_key"},
}


@pytest.mark.parametrize("description_word", sorted(EXPECTED_MATCHES))
def test_synthesized_patterns_match_exactly_the_intended_sample_events(notify, description_word):
    pattern = rule_pattern(notify, description_word)
    with mock_aws():
        region = "us-east-1"
        events = boto3.client("events", region_name=region)
        sqs = boto3.client("sqs", region_name=region)
        queue_url = sqs.create_queue(QueueName="matched")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="under-test", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="under-test", Targets=[{"Id": "q", "Arn": queue_arn}])
        for name in event_names():
            sample = load_event(name)
            entry = {
                "Source": sample["source"],
                "DetailType": sample["detail-type"],
                "Detail": json.dumps(sample["detail"]),
                "Resources": sample["resources"],
            }
            assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
        delivered = set()
        while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                delivered.add(json.loads(message["Body"])["detail"]["eventID"])
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    expected = {load_event(name)["detail"]["eventID"] for name in EXPECTED_MATCHES[description_word]}
    assert delivered == expected


@pytest.mark.parametrize("description_word", sorted(EXPECTED_MATCHES))
def test_the_local_event_bus_matches_the_synthesized_patterns_as_eventbridge_does(notify, description_word):
    # the offline lab subscribes with these patterns: the local matcher must pick the same samples
    pattern = rule_pattern(notify, description_word)
    matched = {name for name in event_names() if matches(pattern, load_event(name))}
    assert matched == EXPECTED_MATCHES[description_word]


def test_the_rules_deploy_the_patterns_the_offline_lab_uses(notify):
    assert rule_pattern(notify, "pending deletion") == KEY_USE_PENDING_DELETION
    assert rule_pattern(notify, "scheduled for deletion") == KEY_DELETION_SCHEDULED


# -- AWS's alarm path ------------------------------------------------------------------------


def test_aws_metric_filter_and_alarm_on_the_trail_log_group(notify, cancel):
    notify.template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "FilterPattern": '{ $.eventSource = kms* && $.errorMessage = "* is pending deletion."}',
            "MetricTransformations": [
                {
                    "MetricNamespace": "CloudTrailLogMetrics",
                    "MetricName": "KMSKeyPendingDeletionErrorCount",
                    "MetricValue": "1",
                }
            ],
        },
    )
    assert PENDING_DELETION_FILTER_PATTERN.startswith("{ $.eventSource = kms*")
    topic_ref = Capture()
    notify.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"kmslab-{ALARM_NAME}",
            "Namespace": METRIC_NAMESPACE,
            "MetricName": METRIC_NAME,
            "Statistic": "Sum",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": topic_ref}],
        },
    )
    assert notify.template.find_resources("AWS::SNS::Topic").keys() == {topic_ref.as_string()}
    cancel.template.resource_count_is("AWS::Logs::MetricFilter", 0)
    assert cancel.stack.pending_deletion_alarm is None


def test_undelivered_alerts_alarm_on_each_dead_letter_queue(notify):
    alarms = notify.template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"MetricName": "ApproximateNumberOfMessagesVisible"}}
    )
    assert len(alarms) == 2


def test_without_a_given_log_group_the_alarm_watches_the_configured_trail_log_group():
    built = build(Config(prefix="lab"), with_trail_logs=False)

    built.template.has_resource_properties(
        "AWS::Logs::MetricFilter", {"LogGroupName": "/lab/cloudtrail", "FilterPattern": PENDING_DELETION_FILTER_PATTERN}
    )
    built.template.has_resource_properties("AWS::CloudWatch::Alarm", {"AlarmName": f"lab-{ALARM_NAME}"})
    built.template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/lab/alerts"})


def test_an_unknown_on_use_value_is_refused_at_synth():
    config = Config()
    object.__setattr__(config, "on_use", "cancle")  # KitConfig refuses it too; the stack checks on its own

    with pytest.raises(ValueError, match="on_use must be one of"):
        build(config, with_trail_logs=False)


# -- cdk-nag -------------------------------------------------------------------------------


@pytest.mark.parametrize("on_use", ["notify", "cancel"])
def test_cdk_nag_aws_solutions_and_nist_800_53_r5_pass(on_use):
    built = build(Config(alert_email="secops@example.com", on_use=on_use), with_trail_logs=True, nag=True)

    built.app.synth()  # raises "Validation failed" on any unacknowledged finding


def test_cdk_nag_reports_what_is_not_acknowledged():
    app = new_app()
    trail = cdk.Stack(app, "Trail")
    plain = logs.LogGroup(trail, "PlainLogs")  # no KMS key, no retention: NIST findings
    AlertingStack(app, "Alerting", config=Config(), trail_log_group=plain)
    apply_nag(app)

    with pytest.raises(Exception, match="(?s)Validation ?[Ff]ailed.*CloudWatchLogGroupEncrypted"):
        app.synth()


def test_in_the_kit_the_alarm_watches_the_trail_log_group_and_nag_has_nothing_open(tmp_path):
    app = cdk.App(outdir=str(tmp_path), context={**CDK_CONTEXT, "@aws-cdk/core:failSynthOnValidationErrors": False})
    config = KitConfig(alert_email="secops@example.com", on_use="cancel")
    kit = build_kit(app, config)
    # build_kit wires the alerting stack once the lead adds it; until then this test adds it the same way.
    alerting = getattr(kit, "alerting", None) or AlertingStack(
        app,
        f"{config.stack_prefix}Alerting",
        config=config,
        trail_log_group=kit.trail.log_group,
        env=cdk.Environment(account=config.account, region=config.region),
    )
    apply_nag(app)
    app.synth()

    template = Template.from_stack(alerting)
    template.has_resource_properties(
        "AWS::Logs::MetricFilter", {"LogGroupName": Match.any_value(), "FilterPattern": PENDING_DELETION_FILTER_PATTERN}
    )
    report = json.loads((tmp_path / "validation-report.json").read_text())
    mine = alerting.node.path + "/"
    open_findings = [
        (v["ruleName"], c["constructPath"])
        for r in report["pluginReports"]
        for v in r["violations"]
        for c in v["violatingConstructs"]
        if c["constructPath"].startswith(mine)
    ]
    assert open_findings == []
    suppressed = {
        (v["acknowledgedAt"].removeprefix(mine), v["acknowledgedId"].split("::")[1].split("[")[0])
        for r in report["pluginReports"]
        for v in r.get("suppressedViolations", [])
        if v["acknowledgedAt"].startswith(mine)
    }
    assert {rule for _, rule in suppressed} == {
        "AwsSolutions-IAM5",
        "NIST.800.53.R5-DynamoDBInBackupPlan",
        "NIST.800.53.R5-LambdaConcurrency",
        "NIST.800.53.R5-LambdaInsideVPC",
    }


@pytest.mark.parametrize("fixture", ["notify", "cancel"])
def test_templates_pass_cfn_lint(fixture, request):
    from cfnlint.api import ManualArgs, lint

    built: Built = request.getfixturevalue(fixture)
    assembly = built.app.synth()
    template = (Path(assembly.directory) / built.stack.template_file).read_text()

    findings = [
        f"{m.rule.id} {m.message} at {m.path}" for m in lint(template, config=ManualArgs(regions=["us-east-1"]))
    ]

    assert findings == []


def test_with_a_replica_region_cancel_reaches_the_replica_regions_keys_and_nag_passes():
    built = build(Config(on_use="cancel", multi_region_replica_region="eu-west-1"), with_trail_logs=False, nag=True)
    built.app.synth()  # raises on any unacknowledged finding
    built.template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Sid": "CancelKeyDeletion"})])}},
    )
    cancels = [
        s
        for policy in built.template.find_resources("AWS::IAM::ManagedPolicy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "CancelKeyDeletion"
    ]
    (cancel,) = cancels
    resources = json.dumps(cancel["Resource"])
    assert ":kms:eu-west-1:" in resources and '"Ref": "AWS::Region"' in resources
