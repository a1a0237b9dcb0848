"""The resource a moto-served request names, for IAM's check of a resource-scoped Allow."""

from __future__ import annotations

import json

import pytest

from kmslab.cloud.services.moto_resources import request_resource

ACCOUNT, REGION = "111122223333", "us-east-1"


@pytest.mark.parametrize(
    ("service", "operation", "body", "protocol", "arn"),
    [
        ("dynamodb", "PutItem", {"TableName": "T"}, "json", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/T"),
        (
            "sqs",
            "SendMessage",
            {"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/dlq"},
            "json",
            f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq",
        ),
        (
            "logs",
            "PutLogEvents",
            {"logGroupName": "/g", "logStreamName": "s"},
            "json",
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/g:log-stream:s",
        ),
        (
            "sns",
            "Publish",
            "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At",
            "query",
            "arn:aws:sns:us-east-1:1:t",
        ),
        ("dynamodb", "ListTables", {}, "json", None),
        ("dynamodb", "PutItem", "not json", "json", None),
    ],
)
def test_the_named_resource(service: str, operation: str, body: object, protocol: str, arn: str | None) -> None:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    assert request_resource(service, operation, raw, region=REGION, account=ACCOUNT, protocol=protocol) == arn
