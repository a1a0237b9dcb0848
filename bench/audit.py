"""Benchmark: the offline audit engine against a plain Python gzip+json loop, on the same CloudTrail files.

Generates (once, cached under ``bench/.data/``) N CloudTrail records of KMS calls spread over
2,000 gzip log files in the real CloudTrail layout, then answers ``pending_deletion_key_use``:

1. a single-process plain Python loop (gzip + json + filter) - the baseline;
2. the DuckDB engine, cold, straight over the ``.json.gz`` files;
3. the DuckDB engine after a one-time ingest into a database file (repeated query).

Prints records/s, ratios against the baseline measured in the same run, the ingest time as a
multiple of the cold query's (target: at most 2x), the process CPU seconds of each step (steadier
than wall time on a shared machine), and the peak RSS. The rows of all three must agree.
Usage: ``python bench/audit.py [--records 1000000] [--files 2000] [--threads 2] [--memory-limit 400MB]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kmslab.audit.engine import AuditEngine  # noqa: E402
from kmslab.audit.queries import get_query  # noqa: E402
from kmslab.kms.seams import ApiCall, Caller  # noqa: E402
from kmslab.trail.record import to_cloudtrail_record  # noqa: E402
from kmslab.trail.recorder import log_file_dir, log_file_name, write_log_file  # noqa: E402
from tests.personas import ACCOUNT, ALICE, APP_ROLE, REGION, S3_FOR_APP  # noqa: E402

DATA_ROOT = Path(__file__).resolve().parent / ".data"
OPERATIONS = ["Decrypt", "Encrypt", "GenerateDataKey", "Decrypt", "Decrypt", "DescribeKey", "Sign"]


_USER_AGENTS = (
    "aws-cli/2.17.43 md/awscrt#0.21.2 ua/2.0 os/linux#5.10.223 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython "
    "cfg/retry-mode#standard md/installer#exe md/distrib#amzn.2 md/prompt#off md/command#kms.decrypt",
    "Boto3/1.44.5 md/Botocore#1.44.5 ua/2.1 os/linux#6.1.112 md/arch#arm64 lang/python#3.12.6 md/pyimpl#CPython "
    "exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.44.5",
    "aws-sdk-java/2.28.16 Linux/5.10.226 OpenJDK_64-Bit_Server_VM/21.0.4+7-LTS Java/21.0.4 vendor/Amazon.com_Inc. "
    "io/sync http/Apache cfg/retry-mode/standard",
)


def _callers() -> list[Caller]:
    users = [
        Caller(
            arn=f"arn:aws:iam::{ACCOUNT}:user/user{i}",
            account=ACCOUNT,
            identity_type="IAMUser",
            principal_id=f"AIDA{i:016d}",
            access_key_id=f"AKIA{i:016d}",
            source_ip=f"192.0.2.{i + 1}",
            user_agent=_USER_AGENTS[i % len(_USER_AGENTS)],
            secure_transport=True,
        )
        for i in range(10)
    ]
    roles = [
        Caller(
            arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/service-role-{i}/session-{i}",
            account=ACCOUNT,
            identity_type="AssumedRole",
            principal_id=f"AROA{i:016d}:session-{i}",
            access_key_id=f"ASIA{i:016d}",
            source_ip=f"198.51.100.{i + 1}",
            user_agent=_USER_AGENTS[(i + 1) % len(_USER_AGENTS)],
            secure_transport=True,
        )
        for i in range(10)
    ]
    return [*users, *roles, ALICE, APP_ROLE, S3_FOR_APP]  # the shared personas (tests/personas.py) too


def generate(root: Path, records: int, files: int, seed: int = 7) -> list[Path]:
    """Write ``records`` CloudTrail records over ``files`` gzip log files (30 days, 200 keys).

    Args:
        root: the trail directory.
        records: how many records.
        files: how many files.
        seed: the random seed.

    Returns:
        The files.
    """
    rng = random.Random(seed)
    callers = _callers()
    keys = [f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{rng.getrandbits(128):032x}" for _ in range(200)]
    pending = set(keys[:5])
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    start = end - timedelta(days=29)
    per_file = records // files
    paths = []
    for f in range(files):
        moment = start + (end - start) * f / files
        batch = []
        for i in range(per_file + (1 if f < records % files else 0)):
            key = rng.choice(keys)
            operation = rng.choice(OPERATIONS)
            caller = rng.choice(callers)
            error = None
            if key in pending and rng.random() < 0.5:
                error = ("KMSInvalidStateException", f"{key} is pending deletion.")
            elif rng.random() < 0.01:
                error = ("AccessDeniedException", "User is not authorized to perform this operation.")
            context = {"aws:s3:arn": f"arn:aws:s3:::bucket/object-{i}"} if caller.invoked_by else {"app": "bench"}
            call = ApiCall(
                event_time=moment + timedelta(seconds=i % 3000),
                operation=operation,
                region=REGION,
                account=ACCOUNT,
                caller=caller,
                request_id=f"{rng.getrandbits(128):032x}",
                request={"KeyId": key, "EncryptionContext": context, "Plaintext": "c2VjcmV0"},
                response=None if error else {"KeyId": key},
                error_code=error[0] if error else None,
                error_message=error[1] if error else None,
                key_arns=(key,),
            )
            batch.append(to_cloudtrail_record(call, event_id=f"{rng.getrandbits(128):032x}"))
        first = batch[0]["eventTime"]
        path = log_file_dir(root, ACCOUNT, REGION, first) / log_file_name(ACCOUNT, REGION, first)
        write_log_file(path, batch)
        paths.append(path)
    return paths


def dataset(records: int, files: int) -> Path:
    """Return the cached trail directory for a size, generating it when missing or stale.

    Args:
        records: how many records.
        files: how many files.

    Returns:
        The trail directory.
    """
    root = DATA_ROOT / f"trail-{records}-{files}"
    marker = root / ".complete"
    if marker.exists() and (datetime.now(UTC).timestamp() - marker.stat().st_mtime) < 86400:
        return root
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    print(f"generating {records:,} records in {files:,} files under {root} ...", flush=True)
    generate(root, records, files)
    marker.touch()
    print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    return root


def python_loop(root: Path) -> tuple[int, int]:
    """The baseline: read every file with gzip+json and filter like ``pending_deletion_key_use``.

    Args:
        root: the trail directory.

    Returns:
        (records read, rows found).
    """
    total = found = 0
    for path in sorted(root.rglob("*.json.gz")):
        try:
            with gzip.open(path, "rb") as handle:
                records = json.load(handle)["Records"]
        except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:  # a damaged file: skip it, say so
            print(f"  python loop: skipped {path}: {exc}", file=sys.stderr)
            continue
        for record in records:
            if not isinstance(record, dict):
                continue
            total += 1
            if (
                record.get("eventSource") == "kms.amazonaws.com"
                and record.get("errorCode") == "KMSInvalidStateException"
                and "is pending deletion" in (record.get("errorMessage") or "")
            ):
                found += len(record.get("resources") or [])
    return total, found


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="400MB")
    args = parser.parse_args()
    files = min(args.files, args.records)
    root = dataset(args.records, files)
    size = sum(p.stat().st_size for p in root.rglob("*.json.gz"))
    print(f"data: {args.records:,} records, {files:,} files, {size / 2**20:.0f} MiB gzip")
    query = get_query("pending_deletion_key_use")

    started = time.perf_counter()
    total, expected = python_loop(root)
    baseline = time.perf_counter() - started
    print(f"python gzip+json loop : {baseline:7.2f} s  {total / baseline:12,.0f} records/s  ({expected} rows)")

    engine = AuditEngine(root, threads=args.threads, memory_limit=args.memory_limit)
    started, cpu = time.perf_counter(), _cpu()
    cold_rows = engine.run(query).rows
    cold, cold_cpu = time.perf_counter() - started, _cpu() - cpu
    print(
        f"duckdb cold (json.gz) : {cold:7.2f} s  {total / cold:12,.0f} records/s  "
        f"({len(cold_rows)} rows)  {baseline / cold:5.2f}x the loop  cpu {cold_cpu:.2f} s"
    )

    db = DATA_ROOT / f"audit-{args.records}-{files}.duckdb"
    db.unlink(missing_ok=True)
    db.with_name(db.name + ".wal").unlink(missing_ok=True)
    started, cpu = time.perf_counter(), _cpu()
    ingested = AuditEngine(root, db=db, threads=args.threads, memory_limit=args.memory_limit)
    count = ingested.ingest()
    ingest, ingest_cpu = time.perf_counter() - started, _cpu() - cpu
    print(
        f"duckdb ingest         : {ingest:7.2f} s  {count / ingest:12,.0f} records/s  ({count:,} records)  "
        f"cpu {ingest_cpu:.2f} s"
    )
    print(
        f"ingest / cold         : {ingest / cold:5.2f}x wall, {ingest_cpu / cold_cpu:5.2f}x cpu  (target: at most 2x)"
    )
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        warm_rows = ingested.run(query).rows
        timings.append(time.perf_counter() - started)
    warm = min(timings)
    print(
        f"duckdb after ingest   : {warm:7.3f} s  {total / warm:12,.0f} records/s  "
        f"({len(warm_rows)} rows)  {baseline / warm:7.1f}x the loop  (best of 3)"
    )
    ingested.close()
    engine.close()
    agree = len(cold_rows) == len(warm_rows) == expected and sorted(map(repr, cold_rows)) == sorted(
        map(repr, warm_rows)
    )
    print(f"rows agree: {agree}  peak RSS: {_rss_mib():.0f} MiB")
    if not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
