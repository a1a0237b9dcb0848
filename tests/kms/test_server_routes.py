"""KmsServer beyond KMS calls: control routes, mounted services, identity resolvers, lifecycle."""

from __future__ import annotations

import errno
import http.client
import json
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kmslab.kms import LocalKms
from kmslab.kms.control import TOKEN_HEADER
from kmslab.kms.errors import InvalidSignatureException, ValidationException
from kmslab.kms.seams import ApiCall, Caller, FixedClock
from kmslab.kms.server import KmsServer

CLOUDTRAIL = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"


def request(
    server: KmsServer,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    token: bool = True,
) -> tuple[int, dict]:
    """Send one request; control routes get the server's token and a JSON content type unless told not to."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        sent = dict(headers or {})
        if path.startswith("/_kmslab/") and token:
            sent = {TOKEN_HEADER: server.control_token, "Content-Type": "application/json", **sent}
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def server(tmp_path: Path, clock: FixedClock) -> Iterator[KmsServer]:
    with KmsServer(LocalKms(tmp_path / "kms", clock=clock, region="eu-central-1"), port=0) as srv:
        yield srv


def test_health(server: KmsServer, clock: FixedClock) -> None:
    status, body = request(server, "GET", "/_kmslab/health")
    assert status == 200
    assert body == {
        "status": "ok",
        "service": "kmslab-kms",
        "account": "111122223333",
        "region": "eu-central-1",
        "now": clock.now().isoformat(),
    }


def test_clock_read_and_advance(server: KmsServer, clock: FixedClock) -> None:
    start = clock.now()
    assert request(server, "GET", "/_kmslab/clock") == (200, {"now": start.isoformat()})
    status, body = request(server, "POST", "/_kmslab/clock", {"advanceSeconds": 90})
    assert status == 200 and body["advancedSeconds"] == 90
    assert datetime.fromisoformat(body["now"]) == start + timedelta(seconds=90) == clock.now()
    status, body = request(server, "POST", "/_kmslab/clock", {"advanceSeconds": 0.5})
    assert status == 200 and clock.now() == start + timedelta(seconds=90.5)


@pytest.mark.parametrize(
    "body",
    [
        {"advanceSeconds": -1},
        {"advanceSeconds": "10"},
        {"advanceSeconds": True},
        {"advanceSeconds": None},
        {"advanceSeconds": 1e300},
        {},
        {"advanceSeconds": 1, "rewind": True},
        [1],
        b"not json",
        b"NaN",
        b'{"advanceSeconds": NaN}',
        b'{"advanceSeconds": Infinity}',
    ],
)
def test_clock_refuses_bad_input(server: KmsServer, clock: FixedClock, body: Any) -> None:
    start = clock.now()
    status, answer = request(server, "POST", "/_kmslab/clock", body)
    assert status == 400
    assert answer["__type"] in ("ValidationException", "SerializationException") and answer["message"]
    assert clock.now() == start


def test_clock_that_cannot_move_is_a_400(tmp_path: Path) -> None:
    class Frozen:
        def now(self) -> datetime:
            return datetime(2026, 1, 1).astimezone()

    with KmsServer(LocalKms(None, clock=Frozen()), port=0) as srv:
        status, answer = request(srv, "POST", "/_kmslab/clock", {"advanceSeconds": 1})
    assert (status, answer["__type"]) == (400, "ValidationException")


def test_mounted_service_answers_through_boto3(server: KmsServer) -> None:
    seen: list[tuple[str, dict, Caller, str]] = []

    def cloudtrail(operation: str, body: dict[str, Any], caller: Caller, region: str) -> Mapping[str, Any]:
        seen.append((operation, body, caller, region))
        if body.get("MaxResults") == 1:
            raise ValidationException("MaxResults 1 is refused by this test service.")
        return {"Events": [{"EventId": "e1", "EventName": "Encrypt", "EventTime": datetime(2026, 1, 2).astimezone()}]}

    server.add_service(CLOUDTRAIL, cloudtrail)
    client = boto3.client("cloudtrail", endpoint_url=server.url, region_name="ap-south-1")
    events = client.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}])
    assert [(e["EventId"], e["EventName"]) for e in events["Events"]] == [("e1", "Encrypt")]
    assert events["Events"][0]["EventTime"] == datetime(2026, 1, 2).astimezone()
    operation, body, caller, region = seen[0]
    assert operation == "LookupEvents" and region == "ap-south-1"
    assert body["LookupAttributes"] == [{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}]
    assert caller.arn == "arn:aws:iam::111122223333:root"
    with pytest.raises(ClientError) as exc:
        client.lookup_events(MaxResults=1)
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_mounted_service_bug_is_a_500_json_and_the_server_stays_up(
    server: KmsServer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(operation: str, body: dict[str, Any], caller: Caller, region: str) -> Mapping[str, Any]:
        raise RuntimeError("boom")

    server.add_service("Broken_2020", broken)
    status, answer = request(server, "POST", "/", {}, {"X-Amz-Target": "Broken_2020.Anything"})
    assert (status, answer["__type"]) == (500, "KMSInternalException")
    assert "boom" in caplog.text  # logged (with its traceback) by the HTTP layer
    assert request(server, "GET", "/_kmslab/health")[0] == 200


def test_add_service_refuses_the_kms_prefix(server: KmsServer) -> None:
    with pytest.raises(ValueError, match="TrentService"):
        server.add_service("TrentService", lambda *a: {})


def test_identity_resolver_decides_caller_and_region(tmp_path: Path) -> None:
    calls: list[ApiCall] = []
    alice = Caller(arn="arn:aws:iam::111122223333:user/alice", account="111122223333", identity_type="IAMUser")

    def resolver(headers: Mapping[str, str], method: str, path: str, body: bytes, source_ip: str) -> tuple[Caller, str]:
        if headers.get("X-Test-Deny"):
            raise InvalidSignatureException("The request signature we calculated does not match.")
        assert method == "POST" and path == "/" and body.startswith(b"{") and source_ip == "127.0.0.1"
        return alice, "sa-east-1"

    kms = LocalKms(tmp_path / "kms")
    kms.add_sink(calls.append)
    with KmsServer(kms, port=0, identity_resolver=resolver) as srv:
        client = boto3.client("kms", endpoint_url=srv.url, region_name="us-east-1")
        arn = client.create_key()["KeyMetadata"]["Arn"]
        status, answer = request(srv, "POST", "/", {}, {"X-Amz-Target": "TrentService.ListKeys", "X-Test-Deny": "1"})
    assert arn.startswith("arn:aws:kms:sa-east-1:")
    assert calls[0].caller == alice and calls[0].region == "sa-east-1"
    assert (status, answer["__type"]) == (400, "InvalidSignatureException")


def test_stop_finishes_in_flight_requests_then_closes(tmp_path: Path) -> None:
    closed: list[str] = []
    started = threading.Event()

    def slow(operation: str, body: dict[str, Any], caller: Caller, region: str) -> Mapping[str, Any]:
        started.set()
        time.sleep(0.4)
        return {"done": operation}

    srv = KmsServer(LocalKms(tmp_path / "kms"), port=0, on_close=[lambda: closed.append("trail flushed")])
    srv.add_service("Slow_1", slow)
    srv.start()
    answers: list[tuple[int, dict]] = []
    worker = threading.Thread(
        target=lambda: answers.append(request(srv, "POST", "/", {}, {"X-Amz-Target": "Slow_1.Work"}))
    )
    worker.start()
    assert started.wait(5)
    srv.stop()
    worker.join(5)
    assert answers == [(200, {"done": "Work"})]
    assert closed == ["trail flushed"]
    srv.stop()  # idempotent
    assert closed == ["trail flushed"]
    with pytest.raises(OSError):
        request(srv, "GET", "/_kmslab/health")


def test_stop_closes_idle_keep_alive_connections(tmp_path: Path) -> None:
    srv = KmsServer(LocalKms(tmp_path / "kms"), port=0).start()
    client = boto3.client(
        "kms", endpoint_url=srv.url, region_name="us-east-1", config=Config(retries={"max_attempts": 1})
    )
    client.list_keys()
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 3


def test_busy_port_raises_address_in_use(server: KmsServer) -> None:
    with pytest.raises(OSError) as exc:
        KmsServer(LocalKms(None), host=server.host, port=server.port)
    assert exc.value.errno == errno.EADDRINUSE
