"""SNS through the local KMS, e-mail to the local mailbox, and ``kmslab local mail``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from kmslab.cloud.alerts.mail import Mailbox
from kmslab.cloud.cli import local
from tests.cloud.alerts.conftest import receive_all, wait_for


def _only_admin_key(cloud: Any) -> str:
    account = cloud.cloud.identities.account
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:user/admin"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    return str(
        cloud.client("kms").create_key(Policy=json.dumps(policy), BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"][
            "Arn"
        ]
    )


def test_publish_to_an_encrypted_topic_needs_the_key(cloud, unique, make_queue) -> None:
    key = _only_admin_key(cloud)
    sns_admin = cloud.client("sns")
    topic = sns_admin.create_topic(Name=unique("enc"), Attributes={"KmsMasterKeyId": key})["TopicArn"]
    url, arn = make_queue()
    sns_admin.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    assert sns_admin.publish(TopicArn=topic, Message="from admin", Subject="hi")["MessageId"]
    got = wait_for(lambda: receive_all(cloud.client("sqs"), url))
    assert [json.loads(m["Body"])["Message"] for m in got] == ["from admin"]
    with pytest.raises(ClientError) as refused:
        cloud.client("sns", "alice").publish(TopicArn=topic, Message="from alice")
    assert refused.value.response["Error"]["Code"] == "KMSAccessDenied"
    assert "kms:GenerateDataKey" in refused.value.response["Error"]["Message"]
    assert receive_all(cloud.client("sqs"), url) == []
    # the publisher's KMS call is in the trail, as the publisher, invoked by SNS
    records = [r for r in cloud.cloud.recorder.records() if r.get("eventName") == "GenerateDataKey"]
    mine = [
        r
        for r in records
        if (r.get("requestParameters") or {}).get("encryptionContext", {}).get("aws:sns:topicArn") == topic
    ]
    assert {r["userIdentity"]["arn"].rsplit("/", 1)[-1] for r in mine} == {"admin", "alice"}
    assert all(r["userIdentity"].get("invokedBy") == "sns.amazonaws.com" for r in mine)


def test_email_subscription_delivers_to_the_mailbox_and_the_cli_shows_it(cloud, unique) -> None:
    sns = cloud.client("sns")
    topic = sns.create_topic(Name=unique("mail"))["TopicArn"]
    address = f"{unique('ops')}@example.com"
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=address)
    sns.publish(TopicArn=topic, Message="Key abc is pending deletion and was used.", Subject="KMS alert")
    box = Mailbox(cloud.data_dir / "mail")
    mine = [m for m in box.list() if m.to == address]
    assert len(mine) == 1 and mine[0].subject == "KMS alert"
    assert mine[0].body.startswith("Key abc is pending deletion and was used.")
    runner = CliRunner()
    listed = runner.invoke(local, ["mail", "--data-dir", str(cloud.data_dir)])
    assert listed.exit_code == 0 and mine[0].id in listed.output and "KMS alert" in listed.output
    shown = runner.invoke(local, ["mail", mine[0].id, "--data-dir", str(cloud.data_dir)])
    assert shown.exit_code == 0
    assert f"To: {address}" in shown.output and "pending deletion and was used" in shown.output
    missing = runner.invoke(local, ["mail", "nope", "--data-dir", str(cloud.data_dir)])
    assert missing.exit_code == 2 and "no single message" in missing.output


def test_publish_to_a_missing_topic(cloud) -> None:
    account = cloud.cloud.identities.account
    with pytest.raises(ClientError) as missing:
        cloud.client("sns").publish(TopicArn=f"arn:aws:sns:us-east-1:{account}:nope", Message="x")
    assert missing.value.response["Error"]["Code"] == "NotFound"


FORWARD = """
import os
import boto3

def handler(event, context):
    sns = event["Records"][0]["Sns"]
    boto3.client("sqs").send_message(QueueUrl=os.environ["OUT"], MessageBody=sns["Subject"] + "|" + sns["Message"])
"""


def test_lambda_subscription_invokes_the_function_its_policy_allows(cloud, unique, make_role, make_queue) -> None:
    from tests.cloud.alerts.conftest import zip_of

    url, _ = make_queue()
    role = make_role(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}
    )
    lam = cloud.client("lambda")
    name = unique("sub")
    fn_arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": FORWARD})},
        Timeout=30,
        Environment={"Variables": {"OUT": url}},
    )["FunctionArn"]
    sns = cloud.client("sns")
    topic = sns.create_topic(Name=unique("to-fn"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)
    lam.add_permission(
        FunctionName=name,
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=topic,
    )
    sns.publish(TopicArn=topic, Message="body", Subject="subj")
    got = wait_for(lambda: receive_all(cloud.client("sqs"), url), timeout=30)
    assert [m["Body"] for m in got] == ["subj|body"]
