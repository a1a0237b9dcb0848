"""LookupEvents over recorded KMS calls, directly and through a real boto3 CloudTrail client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from kmslab.kms.errors import KmsError
from kmslab.trail.errors import (
    InvalidLookupAttributesException,
    InvalidMaxResultsException,
    InvalidNextTokenException,
    InvalidTimeRangeException,
)
from kmslab.trail.lookup import TARGET_PREFIX, lookup_events, lookup_service
from kmslab.trail.record import to_cloudtrail_record
from kmslab.trail.recorder import TrailRecorder
from tests.trail.helpers import ALICE, APP_ROLE, KEY_ARN, REGION, call

pytestmark = pytest.mark.unit

START = datetime(2026, 3, 1, tzinfo=UTC)
OTHER_KEY = KEY_ARN.replace("1234abcd", "9999ffff")


def _records() -> list[dict[str, Any]]:
    """60 records, one per minute: Decrypt by Alice on KEY_ARN, every third an Encrypt by the app on OTHER_KEY."""
    records = []
    for i in range(60):
        if i % 3 == 0:
            made = call("Encrypt", {"KeyId": OTHER_KEY}, caller=APP_ROLE, key_arns=(OTHER_KEY,), request_id=f"r{i}")
        else:
            made = call("Decrypt", {}, caller=ALICE, request_id=f"r{i}")
        object.__setattr__(made, "event_time", START + timedelta(minutes=i))
        records.append(to_cloudtrail_record(made))
    records.append(
        to_cloudtrail_record(
            call("ScheduleKeyDeletion", {"KeyId": KEY_ARN}, when=START + timedelta(hours=2), request_id="del")
        )
    )
    return records


RECORDS = _records()


def _ids(response: dict[str, Any]) -> list[str]:
    return [json.loads(e["CloudTrailEvent"])["requestID"] for e in response["Events"]]


def test_events_come_newest_first_with_cloudtrail_fields() -> None:
    response = lookup_events(RECORDS, {"MaxResults": 2})
    first = response["Events"][0]
    assert first["EventName"] == "ScheduleKeyDeletion"
    assert first["ReadOnly"] == "false"
    assert first["EventSource"] == "kms.amazonaws.com"
    assert first["Username"] == "Alice"
    assert first["AccessKeyId"] == "AKIAEXAMPLEALICE"
    assert first["EventTime"] == (START + timedelta(hours=2)).timestamp()
    assert first["Resources"] == [{"ResourceType": "AWS::KMS::Key", "ResourceName": KEY_ARN}]
    assert json.loads(first["CloudTrailEvent"])["eventID"] == first["EventId"]
    assert _ids(response) == ["del", "r59"]
    assert "NextToken" in response


@pytest.mark.parametrize(
    ("key", "value", "count"),
    [
        ("EventName", "Encrypt", 20),
        ("EventName", "Decrypt", 40),
        ("ReadOnly", "false", 1),
        ("ReadOnly", "true", 60),
        ("Username", "app-session", 20),
        ("Username", "Alice", 41),
        ("ResourceName", OTHER_KEY, 20),
        ("ResourceType", "AWS::KMS::Key", 61),
        ("AccessKeyId", "ASIAEXAMPLEAPP", 20),
        ("EventSource", "kms.amazonaws.com", 61),
        ("EventSource", "s3.amazonaws.com", 0),
        ("EventId", RECORDS[7]["eventID"], 1),
    ],
    ids=lambda v: "event-id" if isinstance(v, str) and v == RECORDS[7]["eventID"] else None,
)
def test_each_lookup_attribute_filters(key: str, value: str, count: int) -> None:
    events = []
    token = None
    while True:
        params: dict[str, Any] = {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]}
        if token:
            params["NextToken"] = token
        page = lookup_events(RECORDS, params)
        events += page["Events"]
        token = page.get("NextToken")
        if not token:
            break
    assert len(events) == count


def test_time_range_is_inclusive() -> None:
    params = {
        "StartTime": (START + timedelta(minutes=10)).timestamp(),
        "EndTime": (START + timedelta(minutes=14)).timestamp(),
    }
    assert _ids(lookup_events(RECORDS, params)) == ["r14", "r13", "r12", "r11", "r10"]


def test_pagination_covers_everything_once() -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"MaxResults": 7}
        if token:
            params["NextToken"] = token
        page = lookup_events(RECORDS, params)
        pages += 1
        seen += _ids(page)
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 9
    assert len(seen) == len(set(seen)) == 61


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "a"}] * 2},
            InvalidLookupAttributesException,
        ),
        ({"LookupAttributes": [{"AttributeKey": "Colour", "AttributeValue": "red"}]}, InvalidLookupAttributesException),
        ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": ""}]}, InvalidLookupAttributesException),
        ({"StartTime": 200.0, "EndTime": 100.0}, InvalidTimeRangeException),
        ({"MaxResults": 0}, InvalidMaxResultsException),
        ({"MaxResults": 51}, InvalidMaxResultsException),
        ({"NextToken": "not-a-token"}, InvalidNextTokenException),
    ],
)
def test_bad_requests_get_cloudtrail_errors(params: dict[str, Any], error: type[KmsError]) -> None:
    with pytest.raises(error) as caught:
        lookup_events(RECORDS, params)
    assert isinstance(caught.value, KmsError)
    assert caught.value.status == 400
    assert caught.value.to_response()["__type"] == error.code


def test_a_token_only_works_for_its_own_query() -> None:
    token = lookup_events(RECORDS, {"MaxResults": 1})["NextToken"]
    other = {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}], "NextToken": token}
    with pytest.raises(InvalidNextTokenException):
        lookup_events(RECORDS, other)


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _route_to(handler: Any) -> Any:
    """A botocore before-send hook answering CloudTrail requests with our handler (no network)."""

    def before_send(request: Any, **_: Any) -> AWSResponse:
        target = request.headers["X-Amz-Target"]
        target = target.decode() if isinstance(target, bytes) else target
        prefix, operation = target.rsplit(".", 1)
        assert prefix == TARGET_PREFIX
        body = json.loads(request.body or b"{}")
        try:
            status, payload = 200, handler(operation, body, None, REGION)
        except KmsError as error:
            status, payload = error.status, error.to_response()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "local"}
        return AWSResponse(request.url, status, headers, _Body(json.dumps(payload).encode()))

    return before_send


@pytest.fixture
def cloudtrail(tmp_path: Path) -> Iterator[tuple[Any, TrailRecorder]]:
    recorder = TrailRecorder(tmp_path, account="111122223333", background=False)
    for record in RECORDS:
        recorder.record(record)
    client = boto3.client("cloudtrail", region_name=REGION)
    client.meta.events.register("before-send.cloudtrail", _route_to(lookup_service(recorder)))
    yield client, recorder
    recorder.close()


def test_boto3_client_pages_and_filters(cloudtrail: tuple[Any, TrailRecorder]) -> None:
    client, _ = cloudtrail
    paginator = client.get_paginator("lookup_events")
    events = [
        e
        for page in paginator.paginate(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}],
            StartTime=START,
            EndTime=START + timedelta(minutes=30),
            PaginationConfig={"PageSize": 4},
        )
        for e in page["Events"]
    ]
    assert [e["EventName"] for e in events] == ["Encrypt"] * 11  # minutes 0, 3, ..., 30
    assert events[0]["EventTime"] == START + timedelta(minutes=30)
    assert events[-1]["EventTime"] == START
    assert events[0]["Resources"] == [{"ResourceType": "AWS::KMS::Key", "ResourceName": OTHER_KEY}]
    assert json.loads(events[0]["CloudTrailEvent"])["userIdentity"]["type"] == "AssumedRole"


def test_boto3_client_sees_cloudtrail_errors(cloudtrail: tuple[Any, TrailRecorder]) -> None:
    client, _ = cloudtrail
    with pytest.raises(ClientError) as caught:
        client.lookup_events(StartTime=START + timedelta(days=1), EndTime=START)
    assert caught.value.response["Error"]["Code"] == "InvalidTimeRangeException"
    with pytest.raises(client.exceptions.InvalidLookupAttributesException):
        client.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Decrypt"}] * 2)
    with pytest.raises(client.exceptions.InvalidMaxResultsException):
        client.lookup_events(MaxResults=51)


def test_service_handler_refuses_other_operations(cloudtrail: tuple[Any, TrailRecorder]) -> None:
    _, recorder = cloudtrail
    with pytest.raises(KmsError) as caught:
        lookup_service(recorder)("DescribeTrails", {}, None, REGION)
    assert caught.value.code == "UnknownOperationException"
