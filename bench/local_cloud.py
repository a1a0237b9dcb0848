"""Benchmark: the local cloud's S3 with real SSE-KMS vs moto's server doing plain S3, in the same run.

Figures, each against a baseline measured in the same run (the machine is shared: read ratios, not
absolute numbers):

1. PutObject and GetObject of 64 KiB objects through boto3: ours (``kmslab local up``, HTTPS, SSE-KMS
   under a customer managed key, every PUT calling KMS GenerateDataKey and every GET calling Decrypt)
   vs moto's server (plain HTTP, no encryption at all). Target: ours >= 0.5x moto's rate.
2. KMS calls S3 makes for N PutObjects (default 1,000) into a bucket without and with S3 Bucket Keys.
   Target: at least 100x fewer with.
3. ``aws s3 cp`` of a large file (the venv's AWS CLI v1: multipart, 8 MiB parts, default 64 MiB;
   ``--large-mib 1024`` for the issue's 1 GiB) with ``--sse aws:kms`` to the local cloud vs the same
   copy (plain) to moto, and both servers' peak RSS (VmHWM). Targets: at most 1.5x moto's time; the
   local cloud's peak RSS under 256 MiB.
4. ``kmslab local up`` to the first answered request (a fresh process each time; median of 3).
   Target: under 2 s.

Both servers run as processes of their own (``kmslab local up`` and ``python -m moto.server``).
Not a test: it prints figures and exits 0.

Usage::

    .venv/bin/python bench/local_cloud.py                  # about a minute
    .venv/bin/python bench/local_cloud.py --objects 100 --puts 200 --large-mib 16
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

CONFIG = Config(retries={"max_attempts": 1}, max_pool_connections=4)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kmslab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kmslab", "local", *args], capture_output=True, text=True, check=True)


def _env(data: Path, who: str) -> dict[str, str]:
    out = _kmslab("env", "--as", who, "--data-dir", str(data)).stdout
    env = {}
    for line in out.splitlines():
        if line.startswith("export "):
            name, _, value = line[7:].partition("=")
            env[name] = value.strip("'")
    return env


def _ours(env: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        verify=env["AWS_CA_BUNDLE"],
        config=CONFIG,
    )


def _moto_client(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIAMOTO",
        aws_secret_access_key="x",
        config=CONFIG,
    )


def _rate(s3: Any, bucket: str, count: int, body: bytes, extra: dict[str, Any]) -> tuple[float, float]:
    start = time.perf_counter()
    for i in range(count):
        s3.put_object(Bucket=bucket, Key=f"o{i}", Body=body, **extra)
    put = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(count):
        assert len(s3.get_object(Bucket=bucket, Key=f"o{i}")["Body"].read()) == len(body)
    get = count / (time.perf_counter() - start)
    return put, get


def _stats(env: dict[str, str]) -> int:
    import ssl

    context = ssl.create_default_context(cafile=env["AWS_CA_BUNDLE"])
    with urllib.request.urlopen(env["AWS_ENDPOINT_URL"] + "/_kmslab/stats", context=context) as answer:  # noqa: S310
        return int(json.loads(answer.read())["s3"]["kms_calls_total"])


def _aws_cp(endpoint: dict[str, str], source: Path, target: str, *extra: str) -> float:
    """Time ``aws s3 cp`` with only ``endpoint`` (URL, keys, CA) from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(endpoint, AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    aws = Path(sys.executable).with_name("aws")
    start = time.perf_counter()
    subprocess.run([str(aws), "s3", "cp", "--only-show-errors", str(source), target, *extra], env=env, check=True)
    return time.perf_counter() - start


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def _first_answer(root: Path) -> float:
    data = Path(tempfile.mkdtemp(dir=root))
    port = _free_port()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kmslab", "local", "up", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import ssl

        while True:
            try:
                ca = data / "tls" / "ca.pem"
                context = ssl.create_default_context(cafile=str(ca))
                with urllib.request.urlopen(f"https://localhost:{port}/_kmslab/health", context=context, timeout=1):  # noqa: S310
                    return time.perf_counter() - start
            except (OSError, ValueError):
                if proc.poll() is not None:
                    raise RuntimeError("kmslab local up exited") from None
                time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=300, help="64 KiB objects put then got (default 300)")
    parser.add_argument("--puts", type=int, default=1000, help="PutObjects per Bucket Key mode (default 1000)")
    parser.add_argument("--large-mib", type=int, default=64, help="size of the large upload in MiB (default 64)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kmslab-bench-cloud-"))
    data = root / "cloud"
    _kmslab("up", "--detach", "--port", "0", "--data-dir", str(data))
    moto_port = _free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        admin, alice = _env(data, "admin"), _env(data, "alice")
        key = _ours(admin, "kms").create_key(Description="bench")["KeyMetadata"]["Arn"]
        ours = _ours(alice, "s3")
        theirs = _moto_client(f"http://127.0.0.1:{moto_port}")
        deadline = time.monotonic() + 20
        while True:
            try:
                theirs.list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        body = os.urandom(64 * 1024)
        ours.create_bucket(Bucket="bench-kms")
        theirs.create_bucket(Bucket="bench-plain")
        _rate(ours, "bench-kms", 10, body, {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key})  # warm up
        _rate(theirs, "bench-plain", 10, body, {})
        o_put, o_get = _rate(
            ours, "bench-kms", args.objects, body, {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}
        )
        m_put, m_get = _rate(theirs, "bench-plain", args.objects, body, {})
        print(
            f"64 KiB PutObject: ours (HTTPS, SSE-KMS) {o_put:7.1f}/s  moto (HTTP, plain) {m_put:7.1f}/s  "
            f"ratio {o_put / m_put:.2f}x (target >= 0.5x)"
        )
        print(
            f"64 KiB GetObject: ours (HTTPS, SSE-KMS) {o_get:7.1f}/s  moto (HTTP, plain) {m_get:7.1f}/s  "
            f"ratio {o_get / m_get:.2f}x (target >= 0.5x)"
        )

        calls = {}
        for bucket_key in (False, True):
            name = f"bench-bk-{str(bucket_key).lower()}"
            ours.create_bucket(Bucket=name)
            rule = {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
                "BucketKeyEnabled": bucket_key,
            }
            ours.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]})
            before = _stats(alice)
            for i in range(args.puts):
                ours.put_object(Bucket=name, Key=f"k{i}", Body=b"x")
            calls[bucket_key] = _stats(alice) - before
        ratio = calls[False] / max(calls[True], 1)
        print(
            f"KMS calls for {args.puts} PutObjects: without Bucket Keys {calls[False]}, with {calls[True]}  "
            f"ratio {ratio:.0f}x (target >= 100x)"
        )

        big = root / "large.bin"
        with big.open("wb") as out:
            for _ in range(args.large_mib):
                out.write(os.urandom(1024 * 1024))
        cli_ours = {
            k: alice[k] for k in ("AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        }
        cli_moto = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
            "AWS_ACCESS_KEY_ID": "AKIAMOTO",
            "AWS_SECRET_ACCESS_KEY": "x",
        }
        o_time = _aws_cp(cli_ours, big, "s3://bench-kms/large.bin", "--sse", "aws:kms", "--sse-kms-key-id", key)
        m_time = _aws_cp(cli_moto, big, "s3://bench-plain/large.bin")
        pid = int(json.loads((data / "local.json").read_text())["pid"])
        rss, moto_rss = _rss_kib(pid) / 1024, _rss_kib(moto.pid) / 1024
        print(
            f"{args.large_mib} MiB aws s3 cp: ours (HTTPS, --sse aws:kms) {o_time:.2f} s  moto (HTTP, plain) "
            f"{m_time:.2f} s  ratio {o_time / m_time:.2f}x (target <= 1.5x)"
        )
        print(f"peak RSS: local cloud {rss:.0f} MiB (target < 256)  moto server {moto_rss:.0f} MiB")
        big.unlink()
    finally:
        _kmslab("down", "--data-dir", str(data))
        moto.terminate()
        moto.wait(10)
    firsts = [_first_answer(root) for _ in range(3)]
    print(
        f"kmslab local up to first answered request: median {statistics.median(firsts):.2f} s "
        f"of {[round(f, 2) for f in firsts]} (target < 2 s)"
    )
    print("(shared machine: figures are noisy; compare the ratios, each measured against moto in the same run)")


if __name__ == "__main__":
    main()
