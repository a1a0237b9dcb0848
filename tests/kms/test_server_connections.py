"""Issue 11 item 12: a bounded worker pool, a header deadline, and a 503 ThrottlingException past the caps."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from typing import Any

import boto3
import pytest
from botocore.config import Config

from kmslab.kms import LocalKms
from kmslab.kms.seams import Caller
from kmslab.kms.server import KmsServer

PARTIAL_HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n"


def client(server: KmsServer) -> Any:
    return boto3.client(
        "kms",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLE000000000",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=5),
    )


def workers() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("kmslab-kms-worker"))


def read_reply(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def server() -> Iterator[KmsServer]:
    with KmsServer(LocalKms(None), port=0, max_workers=8, header_timeout=1.5) as srv:
        yield srv


def test_slowloris_neither_takes_threads_nor_blocks_a_real_client(server: KmsServer) -> None:
    kms = client(server)
    kms.list_keys()
    threads_before = threading.active_count()
    with ExitStack() as stack:
        idle = []
        for n in range(300):  # the issue saw 400 slow connections become 403 threads
            sock = stack.enter_context(socket.create_connection((server.host, server.port), timeout=10))
            if n % 2:
                sock.sendall(PARTIAL_HEAD)  # a head that never finishes
            idle.append(sock)
        time.sleep(0.3)
        started = time.monotonic()
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Enabled"] is True
        assert time.monotonic() - started < 3
        assert threading.active_count() - threads_before <= 8
        assert workers() <= 8 and server.worker_count <= 8
        # past the header deadline the server has closed every one of them (408 for a partial head)
        time.sleep(2.5)
        replies = [read_reply(sock) for sock in idle]
    assert all(reply == b"" for reply in replies[0::2])
    assert all(reply.startswith(b"HTTP/1.1 408 ") and b"RequestTimeoutException" in reply for reply in replies[1::2])
    assert kms.list_keys()["Keys"][0]["KeyId"] == key_id


def test_keep_alive_connections_between_requests_take_no_worker(server: KmsServer) -> None:
    clients = [client(server) for _ in range(20)]  # more keep-alive clients than workers
    for _ in range(3):
        for kms in clients:
            kms.list_keys()
        time.sleep(0.7)  # longer than the linger: every connection goes back to the loop
    assert server.worker_count <= 8


def test_past_the_cap_is_a_503_throttling_exception() -> None:
    release = threading.Event()
    entered = threading.Semaphore(0)

    def slow(operation: str, body: dict[str, Any], caller: Caller, region: str) -> Mapping[str, Any]:
        entered.release()
        release.wait(10)
        return {"done": operation}

    srv = KmsServer(LocalKms(None), port=0, max_workers=2, header_timeout=5)
    srv.add_service("Slow_1", slow)
    request = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Slow_1.Work\r\nContent-Length: 2\r\n\r\n{}"
    with srv.start(), ExitStack() as stack:
        busy = []
        for n in range(4):  # two answered (blocked in the handler), two waiting for a worker
            sock = stack.enter_context(socket.create_connection((srv.host, srv.port), timeout=10))
            sock.sendall(request)
            busy.append(sock)
            if n < 2:
                assert entered.acquire(timeout=5)
            else:
                time.sleep(0.3)
        with socket.create_connection((srv.host, srv.port), timeout=10) as extra:
            extra.sendall(request)
            reply = read_reply(extra)  # answered and closed at once
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ") and b"Connection: close" in head
        assert json.loads(body)["__type"] == "ThrottlingException"
        release.set()
        for sock in busy:
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
        conn.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "TrentService.ListKeys"})
        assert conn.getresponse().status == 200
        conn.close()
    assert srv.worker_count == 2


def test_too_many_open_connections_get_a_503() -> None:
    with KmsServer(LocalKms(None), port=0, max_connections=5, header_timeout=1) as srv, ExitStack() as stack:
        for _ in range(5):
            stack.enter_context(socket.create_connection((srv.host, srv.port), timeout=10))
        time.sleep(0.2)
        with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
            sock.sendall(PARTIAL_HEAD + b"Content-Length: 2\r\n\r\n{}")
            reply = read_reply(sock)
        assert reply.startswith(b"HTTP/1.1 503 ") and b"ThrottlingException" in reply
        time.sleep(1.5)  # the idle ones time out; room again
        assert client(srv).list_keys()["Keys"] == []
