"""Fixtures for the alerting Lambda handlers: the asset root on sys.path, moto SNS/SQS/DynamoDB, a key pending deletion.

``lambda/`` is the asset root of both functions (each asset is ``lambda/<handler>/`` plus the shared
``lambda/kms_events/``), so the handlers import as ``key_use_alert.app`` and ``deletion_watch.app``:
package-qualified, they never collide in ``sys.modules``.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from kmslab.kms import LocalKms
from kmslab.kms.seams import FixedClock

ASSET_ROOT = Path(__file__).resolve().parents[2] / "lambda"
if str(ASSET_ROOT) not in sys.path:
    sys.path.insert(0, str(ASSET_ROOT))

from kms_events import clients, idempotency  # noqa: E402

REGION = "us-east-1"


@dataclass
class FakeLambdaContext:
    """The parts of the Lambda context Powertools reads."""

    function_name: str = "kmslab-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:111122223333:function:kmslab-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class AlertInbox:
    """An SQS queue subscribed to the alert topic: what a subscriber would receive."""

    sqs: Any
    queue_url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def attributes(notification: dict[str, Any]) -> dict[str, str]:
        """Return an SNS notification's message attributes as ``{name: value}``."""
        return {name: spec["Value"] for name, spec in notification.get("MessageAttributes", {}).items()}

    def drain(self) -> list[dict[str, Any]]:
        """Return every SNS notification delivered since the last call."""
        out: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return out
            for message in batch:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@dataclass
class AlertingWorld:
    """The AWS side of one test: topic, inbox, idempotency table."""

    topic_arn: str
    table: str
    inbox: AlertInbox
    dynamodb: Any


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[AlertingWorld]:
    """moto SNS (topic + SQS subscriber) and the idempotency table; env set as the stack sets it."""
    clients.reset()
    idempotency.reset()
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        topic_arn = sns.create_topic(Name="kmslab-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        table = "kmslab-idempotency"
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
        )
        monkeypatch.setenv("ALERT_TOPIC_ARN", topic_arn)
        monkeypatch.setenv("IDEMPOTENCY_TABLE", table)
        monkeypatch.delenv("ON_USE", raising=False)
        yield AlertingWorld(topic_arn, table, AlertInbox(sqs, queue_url), dynamodb)
    clients.reset()
    idempotency.reset()


class LogLines(list[dict[str, Any]]):
    """The JSON log lines written so far; call :meth:`refresh` to read new ones."""

    def __init__(self, buffer: io.StringIO) -> None:
        super().__init__()
        self._buffer = buffer

    def refresh(self) -> LogLines:
        self[:] = [json.loads(line) for line in self._buffer.getvalue().splitlines() if line.strip()]
        return self


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """Capture the structured log lines of both handlers' Powertools loggers."""
    import deletion_watch.app as watch_app
    import key_use_alert.app as use_app

    buffer = io.StringIO()
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    for module in (use_app, watch_app):
        handler = module.logger.registered_handler
        assert isinstance(handler, logging.StreamHandler)
        swapped.append((handler, handler.setStream(buffer)))
    yield LogLines(buffer)
    for handler, previous in swapped:
        handler.setStream(previous)


@dataclass(frozen=True)
class PendingKey:
    """A key scheduled for deletion, with an alias, in the KMS the handlers talk to."""

    kms: Any
    key_id: str
    key_arn: str
    alias: str


# The local KMS clock starts at the sample ScheduleKeyDeletion's eventTime, so the sample events
# (2026-01-04/05) fall inside the key's 7-day waiting period.
KMS_START = datetime(2026, 1, 4, 18, 58, 30, tzinfo=UTC)


@pytest.fixture
def local_kms(world: AlertingWorld) -> Iterator[LocalKms]:
    """The local KMS engine (real key states: a key pending deletion refuses cryptographic calls)."""
    engine = LocalKms(clock=FixedClock(KMS_START))
    yield engine
    engine.close()


@pytest.fixture
def kms(local_kms: LocalKms) -> Any:
    """A boto3 KMS client answered by the local KMS, installed as the handlers' KMS client."""
    client = local_kms.boto3_client(REGION)
    clients.override("kms", client)
    return client


@pytest.fixture
def pending_key(kms: Any) -> PendingKey:
    """A key with alias ``alias/kmslab-data``, scheduled for deletion in 7 days."""
    metadata = kms.create_key(Description="kmslab data key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/kmslab-data", TargetKeyId=metadata["KeyId"])
    kms.schedule_key_deletion(KeyId=metadata["KeyId"], PendingWindowInDays=7)
    return PendingKey(kms, metadata["KeyId"], metadata["Arn"], "alias/kmslab-data")


class _RawBody:
    """The raw stream botocore reads a response body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


def local_cloudtrail_client(records: list[dict[str, Any]], region: str = REGION) -> Any:
    """A real boto3 CloudTrail client whose LookupEvents the trail engineer's ``lookup_events`` answers.

    moto has no LookupEvents; this routes the request body, as botocore serialized it, to
    :func:`kmslab.trail.lookup_events` over ``records`` and parses the answer like any response.
    """
    from botocore.awsrequest import AWSResponse

    from kmslab.trail import LookupEventsError, lookup_events

    client = boto3.client("cloudtrail", region_name=region)

    def answer(request: Any, event_name: str = "", **_kwargs: Any) -> AWSResponse | None:
        if not event_name.endswith(".LookupEvents"):
            return None
        params = json.loads(request.body or b"{}")
        try:
            body, status = lookup_events(records, params), 200
        except LookupEventsError as error:
            body, status = error.to_response(), error.status
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "local-lookup"}
        return AWSResponse(request.url, status, headers, _RawBody(json.dumps(body).encode()))

    # botocore runs every before-send handler; moto's catch-all stub would raise NotImplementedError
    # for LookupEvents, so this client does without it.
    from moto.core.models import botocore_stubber

    client.meta.events.unregister("before-send", botocore_stubber)
    client.meta.events.register_first("before-send", answer)
    return client


@pytest.fixture
def trail_records(world: AlertingWorld) -> list[dict[str, Any]]:
    """CloudTrail records the handlers' LookupEvents searches (append to it)."""
    records: list[dict[str, Any]] = []
    clients.override("cloudtrail", local_cloudtrail_client(records))
    return records


@pytest.fixture
def local_cloudtrail() -> Any:
    """The factory :func:`local_cloudtrail_client`, for tests that search records directly."""
    return local_cloudtrail_client
