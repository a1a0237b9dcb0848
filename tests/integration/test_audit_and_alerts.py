"""A scripted scenario on the kit with every switch, then the alert path and the auditor's Athena queries.

It runs on the "all switches" kit (``ALL_SWITCHES``: ``alert_email`` subscribes the mailbox, ``on_use=cancel``
arms the remediation) after ``test_switches.py`` and before the destroy (the order is set in ``conftest.py``). The
scenario, as the kit's principals: the key user uploads and reads objects and encrypts/decrypts; a principal
outside the key policy and the key administrator are refused; the administrator schedules the data key's
deletion; the key user then reads an object, which KMS refuses because the key is pending deletion. That use
sends the alert e-mail naming the object, ``on_use=cancel`` cancels the deletion, and AWS's metric-filter alarm
goes to ALARM. The auditor then runs every named query of the workgroup through Athena, and each one's rows are
compared with rows computed from the CloudTrail records of the trail (read by the auditor from the trail
bucket) and with the scenario's own log.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.audit.queries import load_queries
from kmslab.cloud.alerts.mail import Mail, Mailbox
from tests.integration.audit_oracle import ORACLES, Record, Row, kms_records, multiset
from tests.integration.conftest import Kits
from tests.integration.kit import ALERT_EMAIL, Kit, wait_for

#: longer than the recorder's delivery interval in the kit's cloud (1 s)
recorder_wait = 1.5
USER_SESSION = "scenario-user"
ADMIN_SESSION = "scenario-admin"


@dataclass
class Scenario:
    """What the scenario did, as its own log (not read back from CloudTrail)."""

    kit: Kit
    data_key: str
    bucket: str
    pending_object: str
    user_arn: str
    admin_arn: str
    bob_arn: str
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (operation, principal, error code)
    crypto: Counter[str] = field(default_factory=Counter)  # direct calls of the key user, by operation
    mails: list[Mail] = field(default_factory=list)


def _refused(call: Any) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def scenario(kits: Kits) -> Scenario:
    return _run(kits.get("switched"))


def _run(kit: Kit) -> Scenario:
    account = kit.account
    data_key = kit.resource("KmslabKeys", "DataKey", "Arn")
    bucket = kit.resource("KmslabStorage", "DataBucket")
    user_kms = kit.as_role("kms", "kmslab-key-user", session=USER_SESSION)
    user_s3 = kit.as_role("s3", "kmslab-key-user", session=USER_SESSION)
    admin_kms = kit.as_role("kms", "kmslab-key-admin", session=ADMIN_SESSION)
    bob = next(i["arn"] for i in kit.identities["identities"] if i["arn"].endswith("/bob"))
    s = Scenario(
        kit=kit,
        data_key=data_key,
        bucket=bucket,
        pending_object=f"arn:aws:s3:::{bucket}/reports/q3.csv",
        user_arn=f"arn:aws:sts::{account}:assumed-role/kmslab-key-user/{USER_SESSION}",
        admin_arn=f"arn:aws:sts::{account}:assumed-role/kmslab-key-admin/{ADMIN_SESSION}",
        bob_arn=bob,
    )
    # The key user's work. The object is uploaded without an S3 Bucket Key (a per-object choice S3 allows):
    # with one, KMS sees only the bucket's ARN in the encryption context, and so do CloudTrail and the alert.
    user_s3.put_object(
        Bucket=bucket,
        Key="reports/q3.csv",
        Body=b"q3,figures",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=data_key,
        BucketKeyEnabled=False,
    )
    assert user_s3.get_object(Bucket=bucket, Key="reports/q3.csv")["Body"].read() == b"q3,figures"
    blobs = [user_kms.encrypt(KeyId=data_key, Plaintext=f"n{i}".encode())["CiphertextBlob"] for i in range(2)]
    s.crypto["Encrypt"] += 2
    assert user_kms.decrypt(CiphertextBlob=blobs[0])["Plaintext"] == b"n0"
    s.crypto["Decrypt"] += 1
    # refused calls: outside the key policy, and the administrator (who manages but never uses the key)
    s.refused.append(
        ("Encrypt", bob, _refused(lambda: kit.client("kms", "bob").encrypt(KeyId=data_key, Plaintext=b"x")))
    )
    s.refused.append(("Decrypt", s.admin_arn, _refused(lambda: admin_kms.decrypt(CiphertextBlob=blobs[1]))))
    # a deletion scheduled, then the key used: S3's Decrypt for the key user is refused (pending deletion)
    admin_kms.schedule_key_deletion(KeyId=data_key, PendingWindowInDays=7)
    code = _refused(lambda: user_s3.get_object(Bucket=bucket, Key="reports/q3.csv"))
    s.refused.append(("Decrypt", s.user_arn, code))
    # wait for the alert path (EventBridge -> Lambda -> SNS -> the mailbox) to finish: both alerts arrive (the
    # metric-filter alarm's own ALARM message may come to the same topic before them)
    mailbox = Mailbox(kit.data_dir / "mail")

    def both_alerts() -> list[Mail] | None:
        mails = mailbox.list()
        subjects = " | ".join(m.subject for m in mails)
        return mails if "CANCELLED after use" in subjects and "scheduled for deletion" in subjects else None

    s.mails = wait_for(both_alerts, timeout=60) or mailbox.list()
    kit.flush_trail()
    return s


def _mail_about(s: Scenario, phrase: str) -> Mail:
    found = [m for m in s.mails if phrase in m.subject]
    assert len(found) == 1, [m.subject for m in s.mails]
    return found[0]


def test_the_scenario_was_refused_where_the_policies_say(scenario: Scenario) -> None:
    assert [code for _, _, code in scenario.refused] == [
        "AccessDeniedException",
        "AccessDeniedException",
        "KMS.KMSInvalidStateException",
    ]


def test_using_the_key_pending_deletion_mails_an_alert_naming_the_object(scenario: Scenario) -> None:
    alert = _mail_about(scenario, "KMS key deletion CANCELLED after use")
    assert alert.to == ALERT_EMAIL
    assert scenario.pending_object in alert.body
    assert scenario.data_key in alert.body and scenario.user_arn in alert.body
    # and deletion_watch reported the scheduled deletion itself
    assert scenario.data_key in _mail_about(scenario, "scheduled for deletion").body


def test_the_alert_function_logs_into_the_kits_log_group(scenario: Scenario) -> None:
    kit = scenario.kit
    function = kit.resource("KmslabAlerting", "KmsAlertsKeyUseAlertFunction")
    group = kit.resource("KmslabAlerting", "KmsAlertsKeyUseAlertLogs")  # the template's LoggingConfig.LogGroup
    config = kit.client("lambda").get_function_configuration(FunctionName=function)
    assert config["LoggingConfig"]["LogGroup"] == group
    logs = kit.client("logs")
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    lines = [
        e["message"]
        for s in streams
        for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]
    ]
    assert any(line.startswith("START RequestId") for line in lines)
    assert not logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{function}")["logGroups"]


def test_on_use_cancel_cancelled_the_deletion_of_the_key_in_use(scenario: Scenario) -> None:
    metadata = scenario.kit.client("kms").describe_key(KeyId=scenario.data_key)["KeyMetadata"]
    # KMS leaves a cancelled key Disabled ("CancelKeyDeletion", KMS API reference)
    assert metadata["KeyState"] == "Disabled" and "DeletionDate" not in metadata


def _athena_rows(athena: Any, query: dict[str, Any]) -> tuple[list[str], list[Row]]:
    started = athena.start_query_execution(
        QueryString=query["QueryString"],
        QueryExecutionContext={"Database": query["Database"]},
        WorkGroup=query["WorkGroup"],
    )["QueryExecutionId"]
    status = wait_for(
        lambda: (
            (s := athena.get_query_execution(QueryExecutionId=started)["QueryExecution"]["Status"])["State"]
            not in ("QUEUED", "RUNNING")
            and s
        ),
        timeout=30,
    )
    assert status and status["State"] == "SUCCEEDED", (query["Name"], status)
    rows: list[Row] = []
    columns: list[str] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=started):
        if not columns:
            columns = [c["Name"] for c in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
        rows += [tuple(d.get("VarCharValue") for d in row["Data"]) for row in page["ResultSet"]["Rows"]]
    assert rows[0] == tuple(columns)  # the header row comes first, as Athena sends it
    return columns, rows[1:]


@pytest.fixture(scope="module")
def athena_results(scenario: Scenario) -> dict[str, tuple[list[str], list[Row], list[Record]]]:
    """Every named query of the workgroup run by the auditor, and the KMS records the trail had delivered."""
    kit = scenario.kit
    # CloudTrail delivers log files about every 5 minutes on AWS ("How CloudTrail works"), so an auditor's queries
    # right after the scenario see one fixed set of files. Here the recorder delivers every second, and reading
    # the SSE-KMS log files is itself logged (S3 decrypts as the auditor), so deliveries are held (a longer
    # interval, the one pending wait let run out), and everything recorded so far is delivered once.
    recorder = kit.cloud.recorder
    assert recorder is not None
    recorder.flush_interval = 3600.0
    time.sleep(recorder_wait)
    kit.flush_trail()
    workgroup = kit.record("KmslabAnalytics", "AuditQueriesAuditWorkGroup", "AWS::Athena::WorkGroup").physical_id
    bucket = kit.resource("KmslabTrail", "TrailBucket")
    auditor_s3 = kit.as_role("s3", "kmslab-auditor", session="audit")
    athena = kit.as_role("athena", "kmslab-auditor", session="audit")
    keys = [
        o["Key"]
        for page in auditor_s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="AWSLogs/")
        for o in page.get("Contents", [])
        if "/CloudTrail/" in o["Key"] and o["Key"].endswith(".json.gz")
    ]
    records = kms_records(auditor_s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys)
    ids = athena.list_named_queries(WorkGroup=workgroup)["NamedQueryIds"]
    results = {}
    for query_id in ids:
        query = athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]
        columns, rows = _athena_rows(athena, query)
        results[query["Name"]] = (columns, rows, records)
    return results


def test_the_auditor_runs_every_named_query_of_the_kit(athena_results: dict[str, Any]) -> None:
    assert sorted(athena_results) == sorted(ORACLES) == sorted(q.name for q in load_queries())


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_each_named_query_returns_the_rows_of_the_delivered_records(
    athena_results: dict[str, tuple[list[str], list[Row], list[Record]]], name: str
) -> None:
    columns, rows, records = athena_results[name]
    oracle, compared = ORACLES[name]
    if compared is not None:
        rows = [tuple(row[columns.index(c)] for c in compared) for row in rows]
    assert multiset(rows) == multiset(oracle(records))
    assert rows, f"{name}: the scenario makes every query return rows"


def test_the_queries_show_the_scenario(
    scenario: Scenario, athena_results: dict[str, tuple[list[str], list[Row], list[Record]]]
) -> None:
    def table(name: str) -> list[dict[str, str | None]]:
        columns, rows, _ = athena_results[name]
        return [dict(zip(columns, row, strict=True)) for row in rows]

    s = scenario
    denied = {
        (r["operation"], r["principal"], r["key_arn"])
        for r in table("access_denied_calls")
        if r["key_arn"] == s.data_key  # the switch tests were refused other keys before
    }
    assert denied == {("Encrypt", s.bob_arn, s.data_key), ("Decrypt", s.admin_arn, s.data_key)}
    [pending] = table("pending_deletion_key_use")
    assert (pending["key_arn"], pending["operation"], pending["principal"]) == (s.data_key, "Decrypt", s.user_arn)
    [scheduled] = [r for r in table("key_lifecycle_events") if r["operation"] == "ScheduleKeyDeletion"]
    assert (scheduled["principal"], scheduled["key_arn"], scheduled["pending_window_days"]) == (
        s.admin_arn,
        s.data_key,
        "7",
    )
    assert scheduled["deletion_date"]
    [cancelled] = [r for r in table("key_lifecycle_events") if r["operation"] == "CancelKeyDeletion"]
    assert "KeyUseAlert" in str(cancelled["principal"]) and cancelled["key_arn"] == s.data_key
    on_object = sorted(
        (r["operation"], r["errorcode"] or "")
        for r in table("s3_sse_kms_activity")
        if r["s3_object"] == s.pending_object
    )
    assert on_object == [("Decrypt", ""), ("Decrypt", "KMSInvalidStateException"), ("GenerateDataKey", "")]
    [user] = [r for r in table("kms_calls_by_principal") if r["principal"] == s.user_arn]
    direct = sum(s.crypto.values())
    assert (user["identity_type"], user["calls"], user["failed"]) == ("AssumedRole", str(direct + 3), "1")
    [last] = [r for r in table("key_last_used") if r["key_arn"] == s.data_key]
    assert last["last_principal"] == s.user_arn and int(str(last["uses"])) == direct + 2


def test_the_pending_deletion_alarm_goes_to_alarm(scenario: Scenario) -> None:
    # AWS's recipe: the trail delivers to CloudWatch Logs, the metric filter counts "... is pending deletion."
    # errors, the alarm fires. This needs CloudTrail -> CloudWatch Logs delivery in the local cloud, which is
    # being added apart (issue 15 part 2); until it is merged this test fails, and nothing else depends on it.
    cloudwatch = scenario.kit.client("cloudwatch")
    name = "kmslab-KMSKeyPendingDeletionErrorAlarm"

    def state() -> str:
        scenario.kit.flush_trail()
        [alarm] = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        return str(alarm["StateValue"])

    assert wait_for(lambda: state() == "ALARM", timeout=10, interval=0.5), state()
    # and the alarm notifies the alert topic, whose key lets CloudWatch use it for this account's alarms
    mailbox = Mailbox(scenario.kit.data_dir / "mail")
    assert wait_for(lambda: [m for m in mailbox.list() if m.subject.startswith(f'ALARM: "{name}"')], timeout=10)
