"""The kit's alert, end to end through the local cloud, with no hand-built event.

A real refused call on a key pending deletion -> the trail's CloudTrail event -> the kit's EventBridge
pattern (a rule in moto, state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS) -> the kit's
``key_use_alert`` handler run as a Lambda function (Powertools layer published from the pinned
package) under its own role -> SNS -> the local mailbox.
"""

from __future__ import annotations

import io
import json
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from kmslab.cloud.alerts.mail import Mailbox
from kmslab.cloud.deploy.bootstrap import public_parameter
from kmslab.trail.patterns import KEY_USE_PENDING_DELETION
from tests.cloud.alerts.conftest import wait_for

LAMBDA_ROOT = Path(__file__).resolve().parents[3] / "lambda"


def _handler_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder in ("key_use_alert", "kms_events"):
            for path in sorted((LAMBDA_ROOT / folder).rglob("*.py")):
                archive.write(path, path.relative_to(LAMBDA_ROOT).as_posix())
    return buffer.getvalue()


def test_use_of_a_key_pending_deletion_mails_the_kit_alert(cloud, unique, make_role, make_queue) -> None:
    lam = cloud.client("lambda")
    layer = public_parameter(
        lam, f"/aws/service/powertools/python/x86_64/python3.12/{metadata.version('aws-lambda-powertools')}"
    )
    table = unique("idem")
    cloud.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sns = cloud.client("sns")
    topic = sns.create_topic(Name=unique("alerts"))["TopicArn"]
    address = f"{unique('security')}@example.com"
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=address)
    _, dlq = make_queue()
    role = make_role(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["kms:DescribeKey", "kms:ListAliases"], "Resource": "*"},
                {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
                {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
            ],
        }
    )
    name = unique("key-use-alert")
    function_arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="key_use_alert.app.lambda_handler",
        Code={"ZipFile": _handler_zip()},
        Layers=[layer],
        Timeout=30,
        MemorySize=256,
        DeadLetterConfig={"TargetArn": dlq},
        Environment={
            "Variables": {
                "ALERT_TOPIC_ARN": topic,
                "IDEMPOTENCY_TABLE": table,
                "ON_USE": "notify",
                "POWERTOOLS_SERVICE_NAME": "kmslab-key-use-alert",
            }
        },
    )["FunctionArn"]
    events = cloud.client("events")
    rule = unique("key-use")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(KEY_USE_PENDING_DELETION),
        State="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "alert", "Arn": function_arn}])
    lam.add_permission(
        FunctionName=name,
        StatementId="rule",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=events.describe_rule(Name=rule)["Arn"],
    )

    kms = cloud.client("kms")
    key = kms.create_key(Description=unique("doomed"))["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"still needed")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    with pytest.raises(ClientError) as refused:
        kms.decrypt(CiphertextBlob=blob)
    assert refused.value.response["Error"]["Code"] == "KMSInvalidStateException"

    box = Mailbox(cloud.data_dir / "mail")
    mails = wait_for(lambda: [m for m in box.list() if m.to == address], timeout=90)
    assert len(mails) == 1, [e["message"] for e in _log(cloud, name)]
    assert key in mails[0].body
    assert "Decrypt" in mails[0].body


def _log(cloud, name):  # type: ignore[no-untyped-def]
    logs = cloud.client("logs")
    group = cloud.client("lambda").get_function_configuration(FunctionName=name)["LoggingConfig"]["LogGroup"]
    try:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    except ClientError:
        return []
    return [
        e for s in streams for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]
    ]
