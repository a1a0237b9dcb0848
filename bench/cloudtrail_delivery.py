"""Benchmark: the KMS endpoint's throughput with a logging trail delivering to S3 vs with no trail, same run.

Issue 15's target: CloudTrail delivery keeps the KMS endpoint at >= 0.8x its throughput without a trail.
One in-process local cloud (HTTPS); boto3 Encrypt calls as the admin, in rounds that alternate no trail /
a logging SSE-KMS trail with log file validation (the recorder folds and the trail delivers every second,
off the request path). The machine is shared: read the ratio, not the absolute rates. Not a test.

Usage::

    .venv/bin/python bench/cloudtrail_delivery.py [--calls 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from kmslab.cloud.config import CloudConfig  # noqa: E402
from kmslab.cloud.local import build_cloud  # noqa: E402


def _rate(kms: Any, key: str, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        kms.encrypt(KeyId=key, Plaintext=b"x" * 64)
    return calls / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="kmslab-bench-trail-"))
    cloud = build_cloud(CloudConfig(data_dir=data, port=0, tls=True), warm_moto=False).start()
    try:
        ids = json.loads((data / "identities.json").read_text())
        admin = next(i for i in ids["identities"] if i["arn"].endswith("/admin"))
        account = ids["account"]

        def client(service: str) -> Any:
            return boto3.client(
                service, endpoint_url=cloud.url, region_name="us-east-1", verify=str(data / "tls" / "ca.pem"),
                aws_access_key_id=admin["access_key_id"], aws_secret_access_key=admin["secret_access_key"],
                config=Config(retries={"max_attempts": 1}),
            )  # fmt: skip

        kms, s3, ct = client("kms"), client("s3"), client("cloudtrail")
        key = kms.create_key(Description="bench")["KeyMetadata"]["Arn"]
        arn = f"arn:aws:cloudtrail:us-east-1:{account}:trail/bench"
        trail_key = kms.create_key(
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*",
                         "Resource": "*"},
                        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                         "Action": "kms:GenerateDataKey*", "Resource": "*"},
                    ],
                }
            )
        )["KeyMetadata"]["Arn"]  # fmt: skip
        s3.create_bucket(Bucket="bench-trail")
        statements = [
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
             "Resource": "arn:aws:s3:::bench-trail"},
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": "arn:aws:s3:::bench-trail/AWSLogs/*"},
        ]  # fmt: skip
        policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
        s3.put_bucket_policy(Bucket="bench-trail", Policy=policy)
        ct.create_trail(Name="bench", S3BucketName="bench-trail", KmsKeyId=trail_key, EnableLogFileValidation=True)
        _rate(kms, key, 50)  # warm up
        without, with_trail = [], []
        for _ in range(args.rounds):
            ct.stop_logging(Name="bench")
            without.append(_rate(kms, key, args.calls))
            ct.start_logging(Name="bench")
            with_trail.append(_rate(kms, key, args.calls))
        assert cloud.recorder is not None
        cloud.recorder.flush()
        delivered = s3.list_objects_v2(Bucket="bench-trail", Prefix=f"AWSLogs/{account}/CloudTrail/")["KeyCount"]
        status = ct.get_trail_status(Name="bench")
        base, trailed = statistics.median(without), statistics.median(with_trail)
        print(f"Encrypt calls/s, no trail (median of {args.rounds} x {args.calls}): {base:8.1f}")
        print(f"Encrypt calls/s, logging trail delivering:         {trailed:8.1f}")
        print(f"ratio trail/no trail: {trailed / base:.2f}x (target >= 0.8x); log files delivered: {delivered}")
        print(f"delivery error: {status.get('LatestDeliveryError', 'none')}; arn {arn}")
    finally:
        cloud.stop()


if __name__ == "__main__":
    main()
