"""Helpers for the alert-path tests (the ``cloud`` fixture comes from tests/cloud/conftest.py)."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

TRUST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def zip_of(files: dict[str, str]) -> bytes:
    """A zip archive of text files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def wait_for(probe: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll until ``probe`` returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Receive (and delete) what a queue holds now."""
    out = []
    for message in sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
    ).get("Messages", []):
        out.append(message)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out


@pytest.fixture
def make_queue(cloud: Any, unique: Callable[[str], str]) -> Callable[[], tuple[str, str]]:
    """Create an SQS queue; returns (url, arn)."""
    sqs = cloud.client("sqs")

    def make() -> tuple[str, str]:
        url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    return make


@pytest.fixture
def make_role(cloud: Any, unique: Callable[[str], str]) -> Callable[[dict[str, Any] | None], str]:
    """Create an IAM role Lambda may assume, with an optional inline policy; returns its ARN."""
    iam = cloud.client("iam")

    def make(policy: dict[str, Any] | None = None) -> str:
        name = unique("fn-role")
        arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))["Role"]["Arn"]
        if policy is not None:
            iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
        return arn

    return make
