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
5. The alert path (issue 15): from a refused Decrypt on a key pending deletion to the SNS e-mail in
   the local mailbox, through the trail's event, the kit's EventBridge pattern, the kit's
   ``key_use_alert`` function (Powertools layer) and an e-mail subscription; median of N (default
   20). Two clouds run side by side and take turns: one with warm Lambda workers (the default) and
   the baseline with a fresh worker per invocation (``KMSLAB_LAMBDA_IDLE_WORKERS=0``, the behaviour
   before warm workers). Target: under 1 s. ``--alerts-only`` runs just this figure.
6. Athena (issue 15): the kit's ``pending_deletion_key_use`` as a named query through the endpoint
   (GetNamedQuery, StartQueryExecution, GetQueryExecution until done, GetQueryResults paginated),
   over N CloudTrail records (default 100,000, ``bench/audit.py``'s generator) SSE-KMS in the local
   S3 with the kit's Glue table (partition projection), vs ``kmslab audit query`` (a fresh process,
   as a learner runs it) on the same files in a folder; median of 3, alternating. Target: at most
   1.5x. ``--athena-only`` runs just this figure.

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


_LAMBDA_ROOT = Path(__file__).resolve().parent.parent / "lambda"
_TRUST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _alert_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder in ("key_use_alert", "kms_events"):
            for path in sorted((_LAMBDA_ROOT / folder).rglob("*.py")):
                archive.write(path, path.relative_to(_LAMBDA_ROOT).as_posix())
    return buffer.getvalue()


def _alert_cloud(root: Path, name: str, idle_workers: str | None) -> tuple[Path, Any, Any]:
    """Start a cloud with the kit's key-use alert wired; return (mail folder, admin KMS client, ciphertext)."""
    from importlib import metadata

    from kmslab.cloud.deploy.bootstrap import public_parameter
    from kmslab.trail.patterns import KEY_USE_PENDING_DELETION

    data = root / name
    env = dict(os.environ)
    env.pop("KMSLAB_LAMBDA_IDLE_WORKERS", None)
    if idle_workers is not None:
        env["KMSLAB_LAMBDA_IDLE_WORKERS"] = idle_workers
    subprocess.run(
        [sys.executable, "-m", "kmslab", "local", "up", "--detach", "--port", "0", "--data-dir", str(data)],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    admin = _env(data, "admin")
    lam, sns, iam = _ours(admin, "lambda"), _ours(admin, "sns"), _ours(admin, "iam")
    layer = public_parameter(
        lam, f"/aws/service/powertools/python/x86_64/python3.12/{metadata.version('aws-lambda-powertools')}"
    )
    _ours(admin, "dynamodb").create_table(
        TableName="idem",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="security@example.com")
    role = iam.create_role(RoleName="key-use-alert", AssumeRolePolicyDocument=json.dumps(_TRUST_LAMBDA))["Role"]
    statements = [
        {"Effect": "Allow", "Action": ["kms:DescribeKey", "kms:ListAliases", "sns:Publish", "dynamodb:*"],
         "Resource": "*"},
    ]  # fmt: skip
    iam.put_role_policy(
        RoleName="key-use-alert", PolicyName="alert", PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": statements}),
    )  # fmt: skip
    function = lam.create_function(
        FunctionName="key-use-alert", Runtime="python3.12", Role=role["Arn"],
        Handler="key_use_alert.app.lambda_handler", Code={"ZipFile": _alert_zip()}, Layers=[layer],
        Timeout=30, MemorySize=256,
        Environment={"Variables": {"ALERT_TOPIC_ARN": topic, "IDEMPOTENCY_TABLE": "idem", "ON_USE": "notify",
                                   "POWERTOOLS_SERVICE_NAME": "kmslab-key-use-alert"}},
    )["FunctionArn"]  # fmt: skip
    events = _ours(admin, "events")
    events.put_rule(
        Name="key-use", EventPattern=json.dumps(KEY_USE_PENDING_DELETION),
        State="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
    )  # fmt: skip
    events.put_targets(Rule="key-use", Targets=[{"Id": "alert", "Arn": function}])
    lam.add_permission(
        FunctionName="key-use-alert", StatementId="rule", Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com", SourceArn=events.describe_rule(Name="key-use")["Arn"],
    )  # fmt: skip
    kms = _ours(admin, "kms")
    key = kms.create_key(Description="doomed")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"still needed")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    return data / "mail", kms, blob


def _refused_to_mail(mail: Path, kms: Any, blob: bytes, timeout: float = 60.0) -> float:
    """Time one refused Decrypt until its alert e-mail is in the mailbox."""
    before = len(list(mail.glob("*.eml"))) if mail.is_dir() else 0
    start = time.perf_counter()
    try:
        kms.decrypt(CiphertextBlob=blob)
    except kms.exceptions.KMSInvalidStateException:
        pass
    else:
        raise RuntimeError("Decrypt with a key pending deletion succeeded")
    while time.perf_counter() - start < timeout:
        if mail.is_dir() and len(list(mail.glob("*.eml"))) > before:
            return time.perf_counter() - start
        time.sleep(0.002)
    raise RuntimeError("no alert e-mail within a minute")


def alert_figure(count: int) -> None:
    """Print figure 5: refused Decrypt -> alert e-mail, warm workers vs a fresh worker per invocation."""
    root = Path(tempfile.mkdtemp(prefix="kmslab-bench-alert-"))
    clouds: dict[str, tuple[Path, Any, Any]] = {}
    try:
        clouds["fresh"] = _alert_cloud(root, "fresh", "0")
        clouds["warm"] = _alert_cloud(root, "warm", None)
        times: dict[str, list[float]] = {"fresh": [], "warm": []}
        for _ in range(count):
            for name, (mail, kms, blob) in clouds.items():
                times[name].append(_refused_to_mail(mail, kms, blob))
        for name, (mail, _, _) in clouds.items():  # one e-mail per refused call: each wait saw its own alert
            time.sleep(0.5)
            if len(list(mail.glob("*.eml"))) != count:
                raise RuntimeError(f"{name}: {len(list(mail.glob('*.eml')))} e-mails for {count} refused calls")
    finally:
        for name in clouds:
            _kmslab("down", "--data-dir", str(root / name))
        for name in ("fresh", "warm"):
            if name not in clouds and (root / name / "local.json").exists():
                _kmslab("down", "--data-dir", str(root / name))
    fresh, warm = statistics.median(times["fresh"]), statistics.median(times["warm"])
    print(
        f"refused Decrypt -> alert e-mail in the mailbox (median of {count}): warm workers {warm:.3f} s "
        f"[{min(times['warm']):.3f}..{max(times['warm']):.3f}] (target < 1 s); baseline, a fresh worker per "
        f"invocation {fresh:.3f} s [{min(times['fresh']):.3f}..{max(times['fresh']):.3f}]; {fresh / warm:.1f}x faster"
    )


def _athena_round(athena: Any, named: str) -> tuple[float, list[list[str | None]]]:
    """One named query through the endpoint, Start -> Get (until done) -> Results (every page)."""
    start = time.perf_counter()
    query = athena.get_named_query(NamedQueryId=named)["NamedQuery"]
    execution = athena.start_query_execution(
        QueryString=query["QueryString"], QueryExecutionContext={"Database": query["Database"]},
        WorkGroup=query["WorkGroup"],
    )["QueryExecutionId"]  # fmt: skip
    while True:
        state = athena.get_query_execution(QueryExecutionId=execution)["QueryExecution"]["Status"]
        if state["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.01)
    if state["State"] != "SUCCEEDED":
        raise RuntimeError(f"the named query ended {state}")
    rows: list[list[str | None]] = []
    kwargs: dict[str, Any] = {"QueryExecutionId": execution, "MaxResults": 1000}
    while True:
        page = athena.get_query_results(**kwargs)
        rows += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
        if "NextToken" not in page:
            return time.perf_counter() - start, rows
        kwargs["NextToken"] = page["NextToken"]


def _audit_round(trail_dir: Path) -> tuple[float, list[list[str]]]:
    """``kmslab audit query`` on the same files, a fresh process (CSV)."""
    import csv
    import io

    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "kmslab", "audit", "query", "pending_deletion_key_use", "--trail-dir", str(trail_dir),
         "--days", "30", "--format", "csv"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - start, list(csv.reader(io.StringIO(done.stdout)))


def athena_figure(records: int) -> None:
    """Print figure 6: an Athena named query through the endpoint vs ``kmslab audit query``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from audit import ACCOUNT, dataset  # bench/audit.py: the same generator and cache

    from kmslab.audit.queries import get_query, render
    from kmslab.audit.schema import glue_table_input

    trail_dir = dataset(records, max(1, records // 500))
    root = Path(tempfile.mkdtemp(prefix="kmslab-bench-athena-"))
    data = root / "cloud"
    _kmslab("up", "--detach", "--port", "0", "--data-dir", str(data))
    try:
        admin = _env(data, "admin")
        s3, athena, glue = _ours(admin, "s3"), _ours(admin, "athena"), _ours(admin, "glue")
        key = _ours(admin, "kms").create_key(Description="audit")["KeyMetadata"]["Arn"]
        bucket, results = "kmslab-bench-trail", "kmslab-bench-results"
        for name in (bucket, results):
            s3.create_bucket(Bucket=name)
            rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
                    "BucketKeyEnabled": True}  # fmt: skip
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]})
        for path in sorted(trail_dir.rglob("*.json.gz")):
            s3.put_object(Bucket=bucket, Key=path.relative_to(trail_dir).as_posix(), Body=path.read_bytes())
        glue.create_database(DatabaseInput={"Name": "kmslab_audit"})
        table = glue_table_input(name="cloudtrail_logs", bucket=bucket, account=ACCOUNT, regions=("us-east-1",))
        glue.create_table(DatabaseName="kmslab_audit", TableInput=table)
        athena.create_work_group(
            Name="kmslab", Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{results}/athena/"}}
        )
        sql = render(get_query("pending_deletion_key_use"), table="kmslab_audit.cloudtrail_logs", days=30)
        named = athena.create_named_query(
            Name="pending_deletion_key_use", Database="kmslab_audit", QueryString=sql, WorkGroup="kmslab"
        )["NamedQueryId"]
        _athena_round(athena, named)  # warm up both (the cloud's first DuckDB import, the page cache)
        _audit_round(trail_dir)
        ours: list[float] = []
        cli: list[float] = []
        for _ in range(3):
            seconds, athena_rows = _athena_round(athena, named)
            ours.append(seconds)
            seconds, cli_rows = _audit_round(trail_dir)
            cli.append(seconds)
        if athena_rows != cli_rows:
            raise RuntimeError(f"Athena's rows differ from kmslab audit's: {len(athena_rows)} vs {len(cli_rows)}")
    finally:
        _kmslab("down", "--data-dir", str(data))
    a, c = statistics.median(ours), statistics.median(cli)
    print(
        f"Athena named query via the endpoint on {records:,} records: median {a:.2f} s "
        f"[{min(ours):.2f}..{max(ours):.2f}]; kmslab audit query (fresh process) {c:.2f} s "
        f"[{min(cli):.2f}..{max(cli):.2f}]; ratio {a / c:.2f}x (target <= 1.5x); {len(athena_rows) - 1} rows agree"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=300, help="64 KiB objects put then got (default 300)")
    parser.add_argument("--puts", type=int, default=1000, help="PutObjects per Bucket Key mode (default 1000)")
    parser.add_argument("--large-mib", type=int, default=64, help="size of the large upload in MiB (default 64)")
    parser.add_argument("--alerts", type=int, default=20, help="refused Decrypts timed to the mailbox (default 20)")
    parser.add_argument("--alerts-only", action="store_true", help="run only the alert path figure")
    parser.add_argument("--athena-records", type=int, default=100_000, help="records for the Athena figure")
    parser.add_argument("--athena-only", action="store_true", help="run only the Athena figure")
    args = parser.parse_args()
    if args.alerts_only or args.athena_only:
        if args.alerts_only:
            alert_figure(args.alerts)
        if args.athena_only:
            athena_figure(args.athena_records)
        return
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
    alert_figure(args.alerts)
    athena_figure(args.athena_records)
    print("(shared machine: figures are noisy; compare the ratios, each measured against moto in the same run)")


if __name__ == "__main__":
    main()
