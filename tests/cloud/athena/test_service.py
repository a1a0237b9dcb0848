"""Athena through the gateway with boto3: the kit's Glue table and workgroup, CloudTrail files in S3, as the caller."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.audit.queries import load_queries, render
from kmslab.cli import main
from kmslab.cloud.athena.results import text
from tests.audit.scenario import Scenario, run_scenario
from tests.cloud.conftest import Running
from tests.cloud.logs.kit import TRAIL_BUCKET, resource

DATABASE = "kmslab_audit"
RESULTS_BUCKET = "kmslab-athena-results"
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def _kit_table() -> dict[str, Any]:
    table: dict[str, Any] = resource("KmslabAnalytics", "AWS::Glue::Table")["TableInput"]
    return table


def _kit_workgroup() -> dict[str, Any]:
    found: dict[str, Any] = resource("KmslabAnalytics", "AWS::Athena::WorkGroup")
    return found


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return run_scenario(tmp_path_factory.mktemp("trail"))


@pytest.fixture(scope="module")
def kit(cloud: Running, scenario: Scenario) -> Iterator[dict[str, Any]]:
    """The kit's Glue database, table and workgroup, the trail files SSE-KMS in their bucket."""
    kms = cloud.client("kms")
    key = kms.create_key(Description="audit key")["KeyMetadata"]["Arn"]
    s3 = cloud.client("s3")
    for bucket in (TRAIL_BUCKET, RESULTS_BUCKET):
        s3.create_bucket(Bucket=bucket)
    for path in sorted(scenario.trail_dir.rglob("*.json.gz")):
        s3.put_object(
            Bucket=TRAIL_BUCKET,
            Key=path.relative_to(scenario.trail_dir).as_posix(),
            Body=path.read_bytes(),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key,
        )
    glue = cloud.client("glue")
    glue.create_database(DatabaseInput=resource("KmslabAnalytics", "AWS::Glue::Database")["DatabaseInput"])
    glue.create_table(DatabaseName=DATABASE, TableInput=_kit_table())
    group = _kit_workgroup()
    config = json.loads(json.dumps(group["WorkGroupConfiguration"]))
    config["ResultConfiguration"]["OutputLocation"] = f"s3://{RESULTS_BUCKET}/athena-results/"
    config["ResultConfiguration"]["EncryptionConfiguration"]["KmsKey"] = key
    config["ResultConfiguration"].pop("ExpectedBucketOwner")
    cloud.client("athena").create_work_group(Name=group["Name"], Configuration=config, Description="kit")
    yield {"key": key, "workgroup": group["Name"], "table": _kit_table()["Name"]}


def _wait(athena: Any, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        execution: dict[str, Any] = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        if execution["Status"]["State"] in TERMINAL or time.monotonic() > deadline:
            return execution
        time.sleep(0.02)


def _run(athena: Any, kit: dict[str, Any], sql: str) -> dict[str, Any]:
    started = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": DATABASE}, WorkGroup=kit["workgroup"]
    )
    return _wait(athena, started["QueryExecutionId"])


def _rows(athena: Any, execution_id: str, page: int) -> list[list[str | None]]:
    rows, kwargs = [], {"QueryExecutionId": execution_id, "MaxResults": page}
    while True:
        answer = athena.get_query_results(**kwargs)
        rows += [[d.get("VarCharValue") for d in r["Data"]] for r in answer["ResultSet"]["Rows"]]
        if "NextToken" not in answer:
            return rows
        kwargs["NextToken"] = answer["NextToken"]


def _cli_rows(name: str, trail_dir: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["audit", "query", name, "--trail-dir", str(trail_dir), "--days", "30", "--format", "json"]) == 0
    found: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return found


@pytest.mark.parametrize("query", load_queries(), ids=lambda q: q.name)
def test_each_named_query_through_athena_matches_kmslab_audit_query(
    query: Any, cloud: Running, kit: dict[str, Any], scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    athena = cloud.client("athena")
    execution = _run(athena, kit, render(query, table=f"{DATABASE}.{kit['table']}", days=30))
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    rows = _rows(athena, execution["QueryExecutionId"], page=2)
    expected = _cli_rows(query.name, scenario.trail_dir, capsys)
    assert expected and rows[0] == list(expected[0])
    assert rows[1:] == [[text(v) for v in item.values()] for item in expected]
    assert execution["Statistics"]["DataScannedInBytes"] > 0


def test_results_go_to_the_workgroup_location_sse_kms_under_its_key(cloud: Running, kit: dict[str, Any]) -> None:
    athena, s3 = cloud.client("athena"), cloud.client("s3")
    # the request's own output location loses to the enforced workgroup's
    started = athena.start_query_execution(
        QueryString=f"SELECT eventname, count(*) AS n FROM {kit['table']} GROUP BY eventname ORDER BY eventname",
        QueryExecutionContext={"Database": DATABASE},
        WorkGroup=kit["workgroup"],
        ResultConfiguration={"OutputLocation": f"s3://{TRAIL_BUCKET}/elsewhere/"},
    )
    execution = _wait(athena, started["QueryExecutionId"])
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    location = execution["ResultConfiguration"]["OutputLocation"]
    assert location == f"s3://{RESULTS_BUCKET}/athena-results/{execution['QueryExecutionId']}.csv"
    key = location.removeprefix(f"s3://{RESULTS_BUCKET}/")
    obj = s3.get_object(Bucket=RESULTS_BUCKET, Key=key)
    assert obj["ServerSideEncryption"] == "aws:kms" and obj["SSEKMSKeyId"] == kit["key"]
    body = obj["Body"].read().decode()
    assert list(csv.reader(io.StringIO(body))) == _rows(athena, execution["QueryExecutionId"], page=1000)
    meta = s3.get_object(Bucket=RESULTS_BUCKET, Key=key + ".metadata")
    assert meta["ServerSideEncryption"] == "aws:kms"
    assert json.loads(meta["Body"].read())["RowCount"] == body.count("\n") - 1
    # the auditor may call GetQueryResults but not decrypt the SSE-KMS results file: Athena refuses
    with pytest.raises(ClientError) as caught:
        cloud.client("athena", "auditor").get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_failing_query_ends_failed_with_athenas_reason(cloud: Running, kit: dict[str, Any]) -> None:
    athena = cloud.client("athena")
    execution = _run(athena, kit, "SELECT eventname FROM kmslab_audit.nope")
    status = execution["Status"]
    assert status["State"] == "FAILED"
    assert status["StateChangeReason"] == (
        "TABLE_NOT_FOUND: line 1:23: Table 'awsdatacatalog.kmslab_audit.nope' does not exist"
    )
    assert status["AthenaError"]["ErrorCategory"] == 2
    with pytest.raises(ClientError) as caught:
        athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"
    syntax = _run(athena, kit, f"SELECT eventname FROM {kit['table']} WHERE")["Status"]
    assert syntax["State"] == "FAILED" and syntax["StateChangeReason"].startswith("SYNTAX_ERROR")


def _user(cloud: Running, name: str, actions: list[str]) -> Any:
    iam = cloud.client("iam")
    iam.create_user(UserName=name)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    return cloud.client("athena", creds=creds)


def test_s3_and_kms_are_checked_as_the_caller(cloud: Running, kit: dict[str, Any], unique: Any) -> None:
    sql = f"SELECT count(*) AS n FROM {kit['table']}"
    no_s3 = _user(cloud, unique("no-s3"), ["athena:*", "glue:*", "kms:*"])
    status = _run(no_s3, kit, sql)["Status"]
    assert status["State"] == "FAILED"
    assert status["StateChangeReason"].startswith(f"Permission denied on S3 path: s3://{TRAIL_BUCKET}/AWSLogs/")
    # S3 allows the read, but the trail files are SSE-KMS and the key policy leaves it to IAM: no kms:Decrypt
    no_kms_name = unique("no-kms")
    no_kms = _user(cloud, no_kms_name, ["athena:*", "glue:*", "s3:*"])
    status = _run(no_kms, kit, sql)["Status"]
    assert status["State"] == "FAILED"
    assert status["StateChangeReason"].startswith(f"Permission denied on S3 path: s3://{TRAIL_BUCKET}/AWSLogs/")
    # the refused Decrypt is KMS's own, as that user (through S3), and CloudTrail records it
    assert cloud.cloud.recorder is not None
    refused = [
        r
        for r in cloud.cloud.recorder.records()
        if r["eventName"] == "Decrypt" and r["userIdentity"].get("arn", "").endswith(f":user/{no_kms_name}")
    ]
    assert refused and all(r.get("errorCode") == "AccessDenied" for r in refused)
    no_glue = _user(cloud, unique("no-glue"), ["athena:*", "s3:*", "kms:*"])
    status = _run(no_glue, kit, sql)["Status"]
    assert status["State"] == "FAILED" and "glue:GetTable" in status["StateChangeReason"]
    everything = _user(cloud, unique("all"), ["athena:*", "glue:*", "s3:*", "kms:*"])
    assert _run(everything, kit, sql)["Status"]["State"] == "SUCCEEDED"
    # without athena:StartQueryExecution the call itself is refused
    with pytest.raises(ClientError) as caught:
        cloud.client("athena", "bob").start_query_execution(QueryString=sql, WorkGroup=kit["workgroup"])
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "athena:StartQueryExecution" in caught.value.response["Error"]["Message"]


def test_list_stop_and_no_output_location(cloud: Running, kit: dict[str, Any]) -> None:
    athena = cloud.client("athena")
    for _ in range(2):  # more executions than one page holds, whatever ran before
        _run(athena, kit, "SELECT 1 AS one")
    done = _run(athena, kit, f"SELECT count(*) AS n FROM {kit['table']}")
    athena.stop_query_execution(QueryExecutionId=done["QueryExecutionId"])  # a finished query stays as it is
    again = athena.get_query_execution(QueryExecutionId=done["QueryExecutionId"])["QueryExecution"]
    assert again["Status"]["State"] == "SUCCEEDED"
    pages = athena.get_paginator("list_query_executions").paginate(
        WorkGroup=kit["workgroup"], PaginationConfig={"PageSize": 2}
    )
    ids = [i for page in pages for i in page["QueryExecutionIds"]]
    assert done["QueryExecutionId"] in ids and len(ids) == len(set(ids)) > 2
    batch = athena.batch_get_query_execution(QueryExecutionIds=[done["QueryExecutionId"], "no-such-id"])
    assert [e["QueryExecutionId"] for e in batch["QueryExecutions"]] == [done["QueryExecutionId"]]
    assert batch["QueryExecutions"][0]["Status"]["State"] == "SUCCEEDED"
    assert [u["QueryExecutionId"] for u in batch["UnprocessedQueryExecutionIds"]] == ["no-such-id"]
    with pytest.raises(ClientError) as caught:
        athena.batch_get_query_execution(QueryExecutionIds=[f"id-{i}" for i in range(51)])
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"
    with pytest.raises(ClientError) as caught:
        athena.start_query_execution(QueryString="SELECT 1 FROM t")  # primary has no output location
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "No output location provided" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        athena.get_query_execution(QueryExecutionId="no-such-id")
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"


def test_an_operation_the_local_athena_lacks_is_named_not_a_500(cloud: Running) -> None:
    with pytest.raises(ClientError) as caught:
        cloud.client("athena").get_query_runtime_statistics(QueryExecutionId="x")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert caught.value.response["Error"]["Code"] == "NotImplemented"
    assert "GetQueryRuntimeStatistics" in caught.value.response["Error"]["Message"]


SELECT_ALL = """-- every_column: every column of the Decrypt calls, as the table declares them
SELECT * FROM {{table}}
WHERE eventname = 'Decrypt' AND {{days}}
ORDER BY eventtime, eventid
"""


def test_select_star_returns_every_column_through_athena_and_kmslab_audit(
    cloud: Running, kit: dict[str, Any], scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query_file = tmp_path / "every_column.sql"
    query_file.write_text(SELECT_ALL)
    athena = cloud.client("athena")
    sql = SELECT_ALL.replace("{{table}}", kit["table"]).replace("{{days}}", "timestamp >= '2000/01/01'")
    execution = _run(athena, kit, sql)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    rows = _rows(athena, execution["QueryExecutionId"], page=50)
    # the table's columns in their declared order, then the partition column the offline table has
    # (Athena would add the kit's ``region`` partition too; the engine's table has ``timestamp`` only)
    assert rows[0] == [c["Name"] for c in kit_columns()] + ["timestamp"]
    named = dict(zip(rows[0], rows[1], strict=True))
    assert named["eventname"] == "Decrypt" and named["eventsource"] == "kms.amazonaws.com"
    assert named["useridentity"] and named["useridentity"].startswith("{") and "arn=" in named["useridentity"]
    assert named["eventid"] and named["recipientaccountid"] and named["timestamp"]
    expected = _cli_rows(str(query_file), scenario.trail_dir, capsys)
    assert [list(expected[0])] == [rows[0]]
    assert rows[1:] == [[text(v) for v in item.values()] for item in expected]
    assert all(item["eventid"] and item["useridentity"] for item in expected)


def kit_columns() -> list[dict[str, Any]]:
    columns: list[dict[str, Any]] = _kit_table()["StorageDescriptor"]["Columns"]
    return columns
