"""Resource-scoped IAM Allows count for moto-served requests that name their resource (DynamoDB tables, SNS topics).

Regression: the kit's alert functions may ``dynamodb:PutItem`` on their idempotency table only (and
``sns:Publish`` on their topic only); the local cloud honoured only ``Resource: "*"``, so the deployed
kit's alerts failed with AccessDenied before they could mail anything.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError


def _user_client(cloud: Any, unique: Any, policy: dict[str, Any], service: str) -> Any:
    iam = cloud.client("iam")
    name = unique("scoped")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="scoped", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.client(
        service,
        endpoint_url=cloud.url,
        region_name="us-east-1",
        verify=cloud.ca,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )


def _table(cloud: Any, name: str) -> str:
    made = cloud.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return str(made["TableDescription"]["TableArn"])


def test_an_allow_on_one_table_lets_put_item_there_and_nowhere_else(cloud: Any, unique: Any) -> None:
    mine, other = unique("mine"), unique("other")
    arn = _table(cloud, mine)
    _table(cloud, other)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": arn}],
    }
    ddb = _user_client(cloud, unique, policy, "dynamodb")
    ddb.put_item(TableName=mine, Item={"id": {"S": "1"}})
    with pytest.raises(ClientError) as refused:
        ddb.put_item(TableName=other, Item={"id": {"S": "1"}})
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_an_allow_on_one_topic_lets_publish_there_and_nowhere_else(cloud: Any, unique: Any) -> None:
    sns = cloud.client("sns")
    mine = sns.create_topic(Name=unique("mine"))["TopicArn"]
    other = sns.create_topic(Name=unique("other"))["TopicArn"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": mine}]}
    client = _user_client(cloud, unique, policy, "sns")
    assert client.publish(TopicArn=mine, Message="hello")["MessageId"]
    with pytest.raises(ClientError) as refused:
        client.publish(TopicArn=other, Message="hello")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
