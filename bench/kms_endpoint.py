"""Benchmark: KMS calls per second through boto3 over HTTP, local KMS endpoint vs moto vs the client's ceiling.

Three servers, all started in this process on free ports, each driven by the same boto3 client settings
(one client, keep-alive, sequential calls; optionally N threads with a client each):

1. ours: ``kmslab.kms.server.KmsServer`` over a real ``LocalKms`` (temporary data directory);
2. moto: ``moto.server.ThreadedMotoServer`` (its KMS backend);
3. ceiling: a trivial threaded HTTP/1.1 server (keep-alive, TCP_NODELAY, one write per answer) returning
   canned copies of real answers of ours; no server can beat it with this client, so it measures boto3.

Operations: Encrypt of 1 KiB plaintext and GenerateDataKey (AES_256). Rounds alternate the servers and the
best round counts, which damps noise on a shared machine. Targets: ours >= 2.5x moto and >= 0.8x ceiling.

Usage::

    .venv/bin/python bench/kms_endpoint.py              # about 30-60 s
    .venv/bin/python bench/kms_endpoint.py --calls 300 --rounds 1 --threads 4
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

PLAINTEXT = b"k" * 1024
REGION = "us-east-1"
TARGET_VS_MOTO = 2.5
TARGET_VS_CEILING = 0.8
OPERATIONS = ("Encrypt", "GenerateDataKey")


def make_client(url: str) -> Any:
    """Return a boto3 KMS client for ``url`` with the settings every server gets."""
    session = boto3.session.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region_name=REGION,
    )
    return session.client(
        "kms", endpoint_url=url, config=Config(retries={"max_attempts": 1}, max_pool_connections=32)
    )


def call(client: Any, operation: str, key_id: str) -> dict[str, Any]:
    """Make one benchmark call."""
    if operation == "Encrypt":
        return client.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)  # type: ignore[no-any-return]
    return client.generate_data_key(KeyId=key_id, KeySpec="AES_256")  # type: ignore[no-any-return]


def rate(url: str, key_id: str, operation: str, calls: int, threads: int) -> float:
    """Return calls per second for ``calls`` calls of ``operation`` split across ``threads`` clients."""
    clients = [make_client(url) for _ in range(threads)]
    for client in clients:  # warm-up: connection, model loading, first-call costs
        for _ in range(20):
            call(client, operation, key_id)
    per_thread = max(1, calls // threads)
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def worker(client: Any) -> None:
        barrier.wait()
        try:
            for _ in range(per_thread):
                call(client, operation, key_id)
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(client,)) for client in clients]
    for thread in workers:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{operation} against {url} failed: {errors[0]!r}")
    return per_thread * threads / elapsed


# -- the three servers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def ours() -> Iterator[tuple[str, str]]:
    """Run our endpoint; yield (url, key id)."""
    from kmslab.kms import LocalKms
    from kmslab.kms.server import KmsServer

    with tempfile.TemporaryDirectory(prefix="kmslab-bench-") as data_dir:
        with KmsServer(LocalKms(data_dir, region=REGION), port=0) as server:
            key_id = make_client(server.url).create_key()["KeyMetadata"]["KeyId"]
            yield server.url, key_id


@contextlib.contextmanager
def moto() -> Iterator[tuple[str, str]]:
    """Run moto's threaded server; yield (url, key id)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        key_id = make_client(url).create_key()["KeyMetadata"]["KeyId"]
        yield url, key_id
    finally:
        server.stop()


def canned_answers() -> dict[str, bytes]:
    """Record one real answer of ours per operation, to replay from the ceiling server."""
    answers: dict[str, bytes] = {}
    with ours() as (url, key_id):
        client = make_client(url)
        for operation in OPERATIONS:
            parsed = call(client, operation, key_id)
            answers[operation] = json.dumps(_to_wire(parsed)).encode()
    return answers


def _to_wire(parsed: dict[str, Any]) -> dict[str, Any]:
    import base64

    out: dict[str, Any] = {}
    for name, value in parsed.items():
        if name == "ResponseMetadata":
            continue
        out[name] = base64.b64encode(value).decode() if isinstance(value, bytes) else value
    return out


class _CeilingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    answers: dict[str, bytes] = {}

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        body = self.answers.get(operation, b"{}")
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
            f"x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.wfile.write(head.encode() + body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def ceiling(answers: dict[str, bytes]) -> Iterator[tuple[str, str]]:
    """Run the canned-answer server; yield (url, key id)."""
    handler = type("Handler", (_CeilingHandler,), {"answers": answers})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", "canned"
    finally:
        server.shutdown()
        server.server_close()


# -- the run -----------------------------------------------------------------------------------------------


def measure(
    servers: dict[str, Callable[[], contextlib.AbstractContextManager[tuple[str, str]]]],
    calls: int,
    rounds: int,
    threads: int,
    progress: Callable[[str], None],
) -> dict[tuple[str, str], float]:
    """Return the best calls/s per (server, operation) over ``rounds`` alternating rounds."""
    best: dict[tuple[str, str], float] = {}
    for round_number in range(1, rounds + 1):
        for name, start in servers.items():
            with start() as (url, key_id):
                for operation in OPERATIONS:
                    value = rate(url, key_id, operation, calls, threads)
                    best[name, operation] = max(best.get((name, operation), 0.0), value)
                    progress(f"  round {round_number}: {name:<8} {operation:<16} {value:8.0f} calls/s")
    return best


def report(best: dict[tuple[str, str], float], label: str) -> bool:
    """Print the table and the targets; return whether every target was met."""
    print(f"\n{label}")
    print(f"{'operation':<22}{'ours':>10}{'moto':>10}{'ceiling':>10}{'ours/moto':>12}{'ours/ceiling':>14}")
    met = True
    for operation in OPERATIONS:
        mine, theirs, top = best["ours", operation], best["moto", operation], best["ceiling", operation]
        vs_moto, vs_top = mine / theirs, mine / top
        name = "Encrypt (1 KiB)" if operation == "Encrypt" else "GenerateDataKey"
        print(f"{name:<22}{mine:>8.0f}/s{theirs:>8.0f}/s{top:>8.0f}/s{vs_moto:>11.2f}x{vs_top:>13.2f}x")
        ok_moto, ok_top = vs_moto >= TARGET_VS_MOTO, vs_top >= TARGET_VS_CEILING
        met = met and ok_moto and ok_top
        print(
            f"{'':<22}target ours/moto >= {TARGET_VS_MOTO}x: {'PASS' if ok_moto else 'MISS'}; "
            f"ours/ceiling >= {TARGET_VS_CEILING}x: {'PASS' if ok_top else 'MISS'}"
        )
    return met


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=600, help="calls per operation per round (default 600)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best counts (default 3)")
    parser.add_argument("--threads", type=int, default=0, help="also run with N concurrent clients (default: no)")
    parser.add_argument("--quiet", action="store_true", help="print only the tables")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.rounds < 1 or args.threads < 0:
        parser.error("--calls and --rounds must be >= 1, --threads >= 0")

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    answers = canned_answers()
    servers: dict[str, Callable[[], contextlib.AbstractContextManager[tuple[str, str]]]] = {
        "ours": ours,
        "moto": moto,
        "ceiling": lambda: ceiling(answers),
    }
    started = time.perf_counter()
    print(f"KMS endpoint benchmark: {args.calls} calls per operation, best of {args.rounds} rounds", flush=True)
    met = report(
        measure(servers, args.calls, args.rounds, 1, progress),
        "1 client, sequential, keep-alive (calls/s, best round)",
    )
    if args.threads:
        threaded = measure(servers, args.calls, args.rounds, args.threads, progress)
        report(threaded, f"{args.threads} threads, a client each (calls/s, best round; informational)")
    print(f"\ntargets {'met' if met else 'MISSED'} (sequential); took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
