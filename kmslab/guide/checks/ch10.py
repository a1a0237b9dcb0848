"""Chapter 10's checkpoint: the kit's trail, its log files read as the auditor, and every named query run."""

from __future__ import annotations

from typing import Any

from kmslab.guide.checks._base import Chapter, CheckEnv, Finding

TRAIL = "kmslab-trail"
AUDIT_ALIAS = "alias/kmslab/audit"
WORKGROUP = "kmslab-audit"
AUDITOR = "auditor"
#: how many of the workgroup's latest query executions are looked at
MAX_RUNS = 200


def _trail(env: CheckEnv) -> dict[str, Any] | None:
    found = env.client("cloudtrail").describe_trails(trailNameList=[TRAIL]).get("trailList", [])
    return dict(found[0]) if found else None


def trail_logging(env: CheckEnv) -> Finding:
    """The trail is logging, multi-Region, validated, under the audit key."""
    text = f"the trail {TRAIL} is logging, multi-Region, validated, under the audit key"
    trail = _trail(env)
    if trail is None:
        return Finding.missing(text, f"no trail {TRAIL}: deploy the kit (chapter 1)")
    audit_key = env.client("kms").describe_key(KeyId=AUDIT_ALIAS)["KeyMetadata"]["Arn"]
    problems = [
        what
        for what, ok in (
            ("not multi-Region", trail.get("IsMultiRegionTrail")),
            ("log file validation is off", trail.get("LogFileValidationEnabled")),
            (f"not encrypted under {AUDIT_ALIAS}", trail.get("KmsKeyId") == audit_key),
            ("not logging", env.client("cloudtrail").get_trail_status(Name=trail["TrailARN"]).get("IsLogging")),
        )
        if not ok
    ]
    if problems:
        return Finding.missing(text, "; ".join(problems) + ": redeploy the kit's trail stack (chapter 1)")
    return Finding.done(text)


def auditor_reads_logs(env: CheckEnv) -> Finding:
    """The auditor can read and decrypt the trail's log files."""
    text = "the auditor can read and decrypt the trail's log files"
    trail = _trail(env)
    if trail is None:
        return Finding.missing(text, f"no trail {TRAIL}: deploy the kit (chapter 1)")
    bucket = trail["S3BucketName"]
    s3 = env.client("s3", profile=AUDITOR)
    prefix = f"AWSLogs/{env.account()}/CloudTrail/"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=50).get("Contents", [])
    logs = [item["Key"] for item in listed if item["Key"].endswith(".json.gz")]
    if not logs:
        return Finding.missing(text, f"no log file in s3://{bucket}/{prefix} yet: CloudTrail delivers every 5 minutes")
    s3.get_object(Bucket=bucket, Key=logs[-1])["Body"].read()
    return Finding.done(text)


def named_queries_ran(env: CheckEnv) -> Finding:
    """Every named query of the workgroup ran successfully."""
    athena = env.client("athena")
    ids = athena.list_named_queries(WorkGroup=WORKGROUP).get("NamedQueryIds", [])
    if not ids:
        return Finding.missing(
            f"every named query of the {WORKGROUP} workgroup ran successfully", "deploy the kit's analytics stack"
        )
    queries = athena.batch_get_named_query(NamedQueryIds=ids)["NamedQueries"]
    named = {q["Name"]: q["QueryString"].strip() for q in queries}
    succeeded: set[str] = set()
    pages = athena.get_paginator("list_query_executions").paginate(WorkGroup=WORKGROUP)
    run_ids = [run for page in pages for run in page.get("QueryExecutionIds", [])]
    recent = run_ids[:MAX_RUNS]  # newest first
    for start in range(0, len(recent), 50):  # BatchGetQueryExecution takes up to 50 IDs
        batch = athena.batch_get_query_execution(QueryExecutionIds=recent[start : start + 50])
        for run in batch.get("QueryExecutions", []):
            if run.get("Status", {}).get("State") == "SUCCEEDED":
                succeeded.add(run["Query"].strip())
    ran = sorted(name for name, sql in named.items() if sql in succeeded)
    text = f"every named query of the {WORKGROUP} workgroup ran successfully ({len(ran)} of {len(named)})"
    if len(ran) < len(named):
        left = ", ".join(sorted(set(named) - set(ran)))
        return Finding.missing(text, f"run {left} (steps 10.5 to 10.10)")
    return Finding.done(text)


CHAPTER = Chapter(
    number=10,
    title="CloudTrail and Athena",
    checks=(trail_logging, auditor_reads_logs, named_queries_ran),
)
