"""Benchmark the alerting handlers: cold import time and per-event handling time.

Cold import: a fresh interpreter per sample imports the handler module (what a Lambda cold start
pays before the first event), against a baseline of ``import boto3`` in the same run.
Per event: each handler handles N distinct sample events with every AWS call answered by small
in-memory fakes (KMS, CloudTrail, SNS, DynamoDB), against a baseline of a bare Powertools handler
(Logger context + JSON) in the same run. Run: ``.venv/bin/python bench/handlers.py [--events N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_ROOT = ROOT / "lambda"
sys.path.insert(0, str(LAMBDA_ROOT))
sys.path.insert(0, str(ROOT))

ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:kmslab-alerts",
    "IDEMPOTENCY_TABLE": "kmslab-idempotency",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "AWS_EC2_METADATA_DISABLED": "true",
}
os.environ.update(ENV)

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def cold_import(statement: str, samples: int) -> float:
    """Median seconds for a fresh interpreter to run ``statement`` (timed inside the child)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONPATH": str(LAMBDA_ROOT), "PYTHONDONTWRITEBYTECODE": "0"}
    times = []
    for _ in range(samples):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip()))
    return statistics.median(times)


class FakeKms:
    def __init__(self) -> None:
        self.deletion = datetime(2026, 1, 11, 18, 58, 30, tzinfo=UTC)

    def describe_key(self, KeyId: str) -> dict[str, Any]:  # noqa: N803 - boto3's parameter names
        return {
            "KeyMetadata": {
                "KeyId": KEY_ARN.rsplit("/", 1)[1],
                "Arn": KEY_ARN,
                "KeyState": "PendingDeletion",
                "DeletionDate": self.deletion,
                "PendingDeletionWindowInDays": 7,
                "Description": "bench",
                "KeyManager": "CUSTOMER",
            }
        }

    def get_paginator(self, name: str) -> Any:
        class _Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                return [{"Aliases": [{"AliasName": "alias/kmslab-data"}]}]

        return _Pages()


class FakeCloudTrail:
    def lookup_events(self, **_: Any) -> dict[str, Any]:
        record = {"eventName": "Decrypt", "userIdentity": {"arn": "arn:aws:iam::111122223333:user/Bob"}}
        when = datetime(2026, 1, 1, tzinfo=UTC)
        manage = [
            {"EventId": str(i), "EventName": "DescribeKey", "EventTime": when, "CloudTrailEvent": "{}"}
            for i in range(10)
        ]
        use = {
            "EventId": "u",
            "EventName": "Decrypt",
            "EventTime": when - timedelta(days=2),
            "CloudTrailEvent": json.dumps(record),
        }
        return {"Events": [*manage, use]}


class FakeSns:
    def publish(self, **_: Any) -> dict[str, str]:
        return {"MessageId": str(uuid.uuid4())}


class FakeDynamoDb:
    """Enough of DynamoDB for Powertools idempotency: every event ID is new."""

    def __init__(self) -> None:
        self.meta = type("Meta", (), {"events": type("Events", (), {"register": lambda *a, **k: None})()})()

    def put_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def update_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def delete_item(self, **_: Any) -> dict[str, Any]:
        return {}


def per_event(handler: Any, events: list[dict[str, Any]], context: Any) -> float:
    """Median microseconds per event (5 rounds over fresh event IDs)."""
    rounds = []
    for _ in range(5):
        batch = [{**e, "id": str(uuid.uuid4())} for e in events]
        start = time.perf_counter()
        for event in batch:
            handler(event, context)
        rounds.append((time.perf_counter() - start) / len(batch) * 1e6)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200, help="events per round (default 200)")
    parser.add_argument("--imports", type=int, default=3, help="cold-import samples per module (default 3)")
    args = parser.parse_args()

    print(f"cold import (median of {args.imports} fresh interpreters)")
    baseline = cold_import("import boto3", args.imports)
    print(f"  {'import boto3 (baseline)':34s} {baseline * 1000:8.1f} ms")
    for module in ("key_use_alert.app", "deletion_watch.app"):
        seconds = cold_import(f"import {module}", args.imports)
        print(f"  {'import ' + module:34s} {seconds * 1000:8.1f} ms   x{seconds / baseline:.2f} baseline")

    from aws_lambda_powertools import Logger
    from deletion_watch import app as watch_app
    from key_use_alert import app as use_app
    from kms_events import clients

    from tests.events import load_event

    clients.override("kms", FakeKms())
    clients.override("cloudtrail", FakeCloudTrail())
    clients.override("sns", FakeSns())
    clients.override("dynamodb", FakeDynamoDb())

    context = type(
        "Ctx",
        (),
        {
            "function_name": "bench",
            "memory_limit_in_mb": 256,
            "invoked_function_arn": "arn:aws:lambda:us-east-1:111122223333:function:bench",
            "aws_request_id": "bench",
            "get_remaining_time_in_millis": lambda self: 30_000,
        },
    )()
    bare_logger = Logger(service="bench-baseline", level="WARNING")

    @bare_logger.inject_lambda_context
    def bare(event: dict[str, Any], _context: Any) -> str:
        return json.dumps(event)

    use_events = [
        load_event(n)
        for n in ("decrypt_user_pending_deletion", "decrypt_s3_pending_deletion", "generate_data_key_pending_deletion")
    ]
    watch_events = [load_event(n) for n in ("schedule_key_deletion", "disable_key")]
    ignored_events = [load_event("unrelated_s3_put_bucket_policy")]
    n = max(1, args.events)

    def cycle(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [events[i % len(events)] for i in range(n)]

    print(f"\nper event (median of 5 rounds x {n} events, AWS calls answered by in-memory fakes)")
    base = per_event(bare, cycle(use_events), context)
    print(f"  {'bare Powertools handler (baseline)':34s} {base:8.1f} us")
    for label, handler, events in (
        ("key_use_alert: alert", use_app.lambda_handler, use_events),
        ("deletion_watch: alert", watch_app.lambda_handler, watch_events),
        ("key_use_alert: ignored event", use_app.lambda_handler, ignored_events),
    ):
        micro = per_event(handler, cycle(events), context)
        print(f"  {label:34s} {micro:8.1f} us   x{micro / base:.1f} baseline")


if __name__ == "__main__":
    main()
