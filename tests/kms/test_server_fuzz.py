"""Malformed requests over raw HTTP: every answer is a 4xx AWS-shaped JSON error and the server stays up."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator

import pytest

from kmslab.kms import LocalKms, _http
from kmslab.kms.server import KmsServer

TARGET = "TrentService.{}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KmsServer]:
    with KmsServer(LocalKms(tmp_path_factory.mktemp("fuzz")), port=0) as srv:
        yield srv


@pytest.fixture(scope="module")
def key_id(server: KmsServer) -> str:
    status, body = post(server, "CreateKey", b"{}")
    assert status == 200, body
    return str(body["KeyMetadata"]["KeyId"])


def post(
    server: KmsServer, operation: str | None, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        sent = {"Content-Type": "application/x-amz-json-1.1", **(headers or {})}
        if operation is not None:
            sent["X-Amz-Target"] = TARGET.format(operation)
        conn.request("POST", "/", body=body, headers=sent)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def raw(server: KmsServer, data: bytes, *, shut_write: bool = True) -> tuple[int, dict]:
    """Send raw bytes; parse the single HTTP answer."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(data)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    reply = b"".join(chunks)
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/" in head.lower()
    return status, json.loads(body)


def assert_aws_4xx(status: int, body: dict, code: str | None = None) -> None:
    assert 400 <= status < 500, (status, body)
    assert isinstance(body.get("__type"), str) and body["__type"], body
    assert isinstance(body.get("message"), str), body
    if code is not None:
        assert body["__type"] == code, body


def assert_alive(server: KmsServer, key_id: str) -> None:
    status, body = post(server, "DescribeKey", json.dumps({"KeyId": key_id}).encode())
    assert status == 200 and body["KeyMetadata"]["KeyId"] == key_id


BAD_BODIES = [
    b"{",
    b"not json",
    b"[]",
    b"42",
    b'"KeyId"',
    b"null",
    b"\xff\xfe\x00garbage",
    b'{"KeyId": "x"',
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_bad_json_is_a_serialization_error(server: KmsServer, key_id: str, body: bytes) -> None:
    status, answer = post(server, "Encrypt", body)
    assert_aws_4xx(status, answer)
    assert_alive(server, key_id)


WRONG_TYPES = [
    ("Encrypt", {"KeyId": 5, "Plaintext": "aGVsbG8="}),
    ("Encrypt", {"KeyId": ["k"], "Plaintext": "aGVsbG8="}),
    ("Encrypt", {"KeyId": "{key}", "Plaintext": 12}),
    ("Encrypt", {"KeyId": "{key}", "Plaintext": "not base64!!"}),
    ("Encrypt", {"KeyId": "{key}", "Plaintext": "aGVsbG8=", "EncryptionContext": "ctx"}),
    ("Encrypt", {"KeyId": "{key}", "Plaintext": "aGVsbG8=", "EncryptionContext": {"a": 1}}),
    ("Encrypt", {"KeyId": "{key}", "Plaintext": "aGVsbG8=", "GrantTokens": "tok"}),
    ("Encrypt", {"KeyId": "{key}", "Plaintext": "aGVsbG8=", "EncryptionAlgorithm": 3}),
    ("Encrypt", {"KeyId": "{key}"}),
    ("Decrypt", {"CiphertextBlob": 7}),
    ("Decrypt", {"CiphertextBlob": "%%%"}),
    ("Decrypt", {"CiphertextBlob": "aGVsbG8="}),
    ("Decrypt", {"CiphertextBlob": None}),
    ("Decrypt", {}),
    ("GenerateDataKey", {"KeyId": "{key}", "KeySpec": 256}),
    ("GenerateDataKey", {"KeyId": "{key}", "NumberOfBytes": "32"}),
    ("GenerateDataKey", {"KeyId": "{key}", "NumberOfBytes": True}),
    ("GenerateDataKey", {"KeyId": "{key}", "NumberOfBytes": 100000}),
    ("GenerateDataKey", {"KeyId": "{key}", "NumberOfBytes": 1.5}),
    ("CreateKey", {"KeyUsage": 1}),
    ("CreateKey", {"KeySpec": "NOPE"}),
    ("CreateKey", {"Description": {"a": "b"}}),
    ("CreateKey", {"Tags": "x"}),
    ("CreateKey", {"MultiRegion": "yes"}),
    ("ScheduleKeyDeletion", {"KeyId": "{key}", "PendingWindowInDays": "7"}),
    ("ScheduleKeyDeletion", {"KeyId": "{key}", "PendingWindowInDays": 3}),
    ("ScheduleKeyDeletion", {"KeyId": "{key}", "PendingWindowInDays": 31}),
    ("DescribeKey", {"KeyId": ""}),
    ("DescribeKey", {"KeyId": None}),
    ("DescribeKey", {"KeyId": "x" * 3000}),
    ("CreateAlias", {"AliasName": 1, "TargetKeyId": "{key}"}),
    ("CreateAlias", {"AliasName": "no-prefix", "TargetKeyId": "{key}"}),
]


@pytest.mark.parametrize(("operation", "params"), WRONG_TYPES, ids=[f"{o}-{i}" for i, (o, _) in enumerate(WRONG_TYPES)])
def test_wrong_field_types_are_refused(server: KmsServer, key_id: str, operation: str, params: dict) -> None:
    body = json.dumps(params).replace("{key}", key_id).encode()
    status, answer = post(server, operation, body)
    assert_aws_4xx(status, answer)
    assert_alive(server, key_id)


def test_huge_body_is_413(server: KmsServer, key_id: str) -> None:
    status, answer = post(server, "Encrypt", b'{"KeyId": "' + b"a" * (400 * 1024) + b'"}')
    assert_aws_4xx(status, answer, "RequestEntityTooLargeException")
    assert status == 413
    assert_alive(server, key_id)


@pytest.mark.parametrize(
    ("target", "code"),
    [("TrentService.NoSuchOperation", None), ("Nope.Encrypt", "UnknownOperationException"), ("", None)],
)
def test_unknown_targets(server: KmsServer, key_id: str, target: str, code: str | None) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request("POST", "/", body=b"{}", headers={"X-Amz-Target": target})
    response = conn.getresponse()
    assert_aws_4xx(response.status, json.loads(response.read()), code)
    conn.close()
    assert_alive(server, key_id)


def test_missing_target(server: KmsServer, key_id: str) -> None:
    status, answer = post(server, None, b"{}")
    assert_aws_4xx(status, answer, "UnknownOperationException")
    assert "X-Amz-Target" in answer["message"]
    assert_alive(server, key_id)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("PUT", "/"),
        ("DELETE", "/"),
        ("POST", "/nope"),
        ("GET", "/favicon.ico"),
        ("PATCH", "/_kmslab/clock"),
        ("GET", "/_kmslab/nope"),
    ],
)
def test_wrong_method_or_path(server: KmsServer, key_id: str, method: str, path: str) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request(
        method, path, body=b"{}" if method != "GET" else None, headers={"X-Amz-Target": "TrentService.ListKeys"}
    )
    response = conn.getresponse()
    assert_aws_4xx(response.status, json.loads(response.read()))
    conn.close()
    assert_alive(server, key_id)


_HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n"

RAW_REQUESTS = {
    "binary-garbage": b"\x00\x01\x02\xff\xfe garbage \r\n\r\n",
    "no-http-version": b"POST /\r\n\r\n",
    "bad-version": b"POST / HTTP/9.9\r\nContent-Length: 2\r\n\r\n{}",
    "missing-content-length": _HEAD + b"\r\n{}",
    "garbage-content-length": _HEAD + b"Content-Length: ten\r\n\r\n{}",
    "negative-content-length": _HEAD + b"Content-Length: -5\r\n\r\n{}",
    "chunked": (_HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
    "truncated-body": _HEAD + b"Content-Length: 100\r\n\r\n{}",
    "huge-content-length": (_HEAD + b"Content-Length: 99999999999\r\n\r\n{}"),
    "header-garbage": b"POST / HTTP/1.1\r\nHost: x\r\n\x00\x01\x02\r\nContent-Length: 2\r\n\r\n{}",
    "long-request-line": b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(RAW_REQUESTS))
def test_broken_http_gets_aws_shaped_4xx(server: KmsServer, key_id: str, name: str) -> None:
    status, answer = raw(server, RAW_REQUESTS[name])
    assert_aws_4xx(status, answer)
    assert_alive(server, key_id)


def test_keep_alive_survives_an_error(server: KmsServer, key_id: str) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        for body in (b"{", json.dumps({"KeyId": key_id}).encode(), b"[]", json.dumps({"KeyId": key_id}).encode()):
            conn.request("POST", "/", body=body, headers={"X-Amz-Target": "TrentService.DescribeKey"})
            response = conn.getresponse()
            answer = json.loads(response.read())
            if body.startswith(b'{"'):
                assert response.status == 200 and answer["KeyMetadata"]["KeyId"] == key_id
            else:
                assert_aws_4xx(response.status, answer)
        assert conn.sock is not None  # one connection carried all four requests
    finally:
        conn.close()


def exchange(server: KmsServer, data: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_http_1_0_gets_an_answer_and_a_closed_connection(server: KmsServer) -> None:
    # without shutting down our side: the server itself must close after answering an HTTP/1.0 request
    reply = exchange(server, b"GET /_kmslab/health HTTP/1.0\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in head
    assert json.loads(body)["status"] == "ok"


def test_connection_close_is_honoured(server: KmsServer) -> None:
    token = f"X-Kmslab-Control-Token: {server.control_token}\r\n".encode()
    reply = exchange(server, b"GET /_kmslab/clock HTTP/1.1\r\nHost: x\r\n" + token + b"Connection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in reply


def test_expect_100_continue(server: KmsServer, key_id: str) -> None:
    body = json.dumps({"KeyId": key_id}).encode()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.DescribeKey\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        reply = sock.recv(65536)
    head, _, answer = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and json.loads(answer)["KeyMetadata"]["KeyId"] == key_id


def test_two_pipelined_requests_on_one_connection(server: KmsServer, key_id: str) -> None:
    one = json.dumps({"KeyId": key_id}).encode()
    request = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.DescribeKey\r\nContent-Length: %d\r\n\r\n%s"
    reply = exchange(
        server, request % (len(one), one) + (request % (2, b"{}")).replace(b"Host: x", b"Connection: close")
    )
    assert reply.count(b"HTTP/1.1 200 ") == 1 and reply.count(b"HTTP/1.1 400 ") == 1


@pytest.mark.parametrize(
    "head",
    [
        b"POST / HTTP/1.1\nHost: x\nX-Amz-Target: TrentService.DescribeKey\nContent-Length: %d\n\n",  # bare LF
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.DescribeKey\r\nContent-Length: %d\r\n\r\n",
        b"POST / HTTP/1.1\r\nX-Amz-Target: TrentService.DescribeKey\r\nContent-Length: %d\r\nHost: x\r\n\r\n",
    ],
)
def test_header_framing_variants_are_understood(server: KmsServer, key_id: str, head: bytes) -> None:
    body = json.dumps({"KeyId": key_id}).encode()
    reply = exchange(server, (head % len(body)).replace(b"Host: x", b"Host: x\r\nConnection: close", 1) + body)
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 200 OK", reply
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["KeyMetadata"]["KeyId"] == key_id


def test_too_many_headers_is_431(server: KmsServer, key_id: str) -> None:
    many = b"".join(b"X-H%d: v\r\n" % n for n in range(150))
    status, answer = raw(server, b"GET /_kmslab/health HTTP/1.1\r\n" + many + b"\r\n")
    assert status == 431
    assert_aws_4xx(status, answer)
    assert_alive(server, key_id)


def test_no_headers_at_all(server: KmsServer) -> None:
    reply = exchange(server, b"GET /_kmslab/health HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")


def test_stalled_and_idle_connections_are_timed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_http, "IDLE_TIMEOUT_SECONDS", 1)
    with KmsServer(LocalKms(None), port=0) as srv:
        # a body that never fully arrives (the client keeps its side open): 400 once the timeout passes
        with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
            sock.sendall(_HEAD + b"Content-Length: 100\r\n\r\n{}")
            started = time.monotonic()
            reply = sock.recv(65536)
            assert reply.startswith(b"HTTP/1.1 400 ") and b"shorter than its Content-Length" in reply
            assert 0.5 < time.monotonic() - started < 5
        # an idle keep-alive connection is closed by the server
        with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
            started = time.monotonic()
            assert sock.recv(10) == b""
            assert 0.5 < time.monotonic() - started < 5
        status, body = request_health(srv)
        assert status == 200 and body["status"] == "ok"


def request_health(server: KmsServer) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", "/_kmslab/health")
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()
