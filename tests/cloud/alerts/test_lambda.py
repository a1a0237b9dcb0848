"""Lambda Invoke of Python functions stored in moto: worker process, role credentials, logs, DLQ."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.cloud.alerts.conftest import receive_all, wait_for, zip_of

CODE = """
import json, os
import boto3

def handler(event, context):
    print("got", json.dumps(event))
    if event.get("fail"):
        raise ValueError("asked to fail")
    who = boto3.client("sts").get_caller_identity()["Arn"]
    out = {"who": who, "name": context.function_name, "env": os.environ.get("GREETING")}
    if event.get("key"):
        try:
            boto3.client("kms").describe_key(KeyId=event["key"])
            out["kms"] = "allowed"
        except Exception as exc:
            out["kms"] = exc.response["Error"]["Code"]
    return out
"""

SLOW = """
import time

def handler(event, context):
    time.sleep(10)
"""


def _function(cloud: Any, unique: Any, role: str, code: str = CODE, **extra: Any) -> str:
    name = unique("fn")
    extra.setdefault("Timeout", 30)  # the machine is shared: a worker importing boto3 may take seconds
    cloud.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": code})},
        Environment={"Variables": {"GREETING": "hello"}},
        **extra,
    )
    return name


def test_sync_invoke_runs_as_the_execution_role_and_logs(cloud, unique, make_role) -> None:
    key = cloud.client("kms").create_key()["KeyMetadata"]["KeyId"]
    allowed = make_role(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"}]}
    )
    bare = make_role()
    lam = cloud.client("lambda")
    name = _function(cloud, unique, allowed)
    out = lam.invoke(FunctionName=name, Payload=json.dumps({"key": key}).encode(), LogType="Tail")
    assert "FunctionError" not in out
    answer = json.loads(out["Payload"].read())
    role_name = allowed.rsplit("/", 1)[-1]
    assert answer["who"].startswith(f"arn:aws:sts::{cloud.cloud.identities.account}:assumed-role/{role_name}/")
    assert answer["name"] == name
    assert answer["env"] == "hello"
    assert answer["kms"] == "allowed"
    assert lam.get_function(FunctionName=name)["Configuration"]["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{name}"
    tail = base64.b64decode(out["LogResult"]).decode()
    assert "START RequestId" in tail and 'got {"key"' in tail
    # the same code under a role without a KMS permission is refused by the key policy / IAM
    refused = _function(cloud, unique, bare)
    answer = json.loads(lam.invoke(FunctionName=refused, Payload=json.dumps({"key": key}).encode())["Payload"].read())
    assert answer["kms"] == "AccessDeniedException"
    logs = cloud.client("logs")
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert streams
    messages = [
        e["message"]
        for e in logs.get_log_events(logGroupName=f"/aws/lambda/{name}", logStreamName=streams[0]["logStreamName"])[
            "events"
        ]
    ]
    assert messages[0].startswith("START RequestId") and messages[-1].startswith("REPORT RequestId")


WHERE_LOGS_GO = """
import os

def handler(event, context):
    print("custom group line")
    return {"context": context.log_group_name, "env": os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]}
"""


def test_a_function_with_its_own_log_group_logs_there(cloud, unique, make_role) -> None:
    logs = cloud.client("logs")
    group = unique("/kmslab/fn-logs")
    logs.create_log_group(logGroupName=group)
    name = _function(cloud, unique, make_role(), WHERE_LOGS_GO, LoggingConfig={"LogGroup": group})
    lam = cloud.client("lambda")
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"]["LogGroup"] == group
    listed = {
        f["FunctionName"]: f for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]
    }
    assert listed[name]["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": group}
    answer = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert answer == {"context": group, "env": group}
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1
    # streams of a custom group carry the function's name (Lambda Developer Guide)
    assert f"/{name}[$LATEST]" in streams[0]["logStreamName"]
    events = logs.get_log_events(logGroupName=group, logStreamName=streams[0]["logStreamName"])["events"]
    assert "custom group line" in [e["message"] for e in events]
    default = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    assert default == []  # nothing went to the default group


def test_unhandled_error_and_timeout(cloud, unique, make_role) -> None:
    role = make_role()
    lam = cloud.client("lambda")
    name = _function(cloud, unique, role)
    out = lam.invoke(FunctionName=name, Payload=b'{"fail": true}')
    assert out["FunctionError"] == "Unhandled"
    error = json.loads(out["Payload"].read())
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "asked to fail"
    slow = _function(cloud, unique, role, SLOW, Timeout=1)
    out = lam.invoke(FunctionName=slow, Payload=b"{}")
    assert out["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in json.loads(out["Payload"].read())["errorMessage"]


def test_missing_function_and_bad_payload(cloud, unique) -> None:
    lam = cloud.client("lambda")
    try:
        lam.invoke(FunctionName=unique("nope"), Payload=b"{}")
    except lam.exceptions.ResourceNotFoundException as exc:
        assert "Function not found" in str(exc)
    else:
        raise AssertionError("expected ResourceNotFoundException")


def test_async_failure_goes_to_the_dlq_after_retries(cloud, unique, make_role, make_queue) -> None:
    url, arn = make_queue()
    lam = cloud.client("lambda")
    name = _function(cloud, unique, make_role(), DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    out = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": true, "n": 7}')
    assert out["StatusCode"] == 202
    sqs = cloud.client("sqs")
    got = wait_for(lambda: receive_all(sqs, url), timeout=30)
    assert len(got) == 1
    assert json.loads(got[0]["Body"]) == {"fail": True, "n": 7}
    assert got[0]["MessageAttributes"]["ErrorMessage"]["StringValue"] == "asked to fail"
    # one try plus one retry: two invocations in the function's log
    logs = cloud.client("logs")
    group = f"/aws/lambda/{name}"
    starts = [
        e
        for s in logs.describe_log_streams(logGroupName=group)["logStreams"]
        for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]
        if e["message"].startswith("START")
    ]
    assert len(starts) == 2


def test_eventbridge_invokes_a_lambda_target_its_policy_allows(cloud, unique, make_role, make_queue) -> None:
    url, arn = make_queue()
    dlq_url, dlq_arn = make_queue()
    forward = """
import json, os
import boto3

def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(event["detail"]["eventName"]))
"""
    role = make_role(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}
    )
    name = _function(cloud, unique, role, forward)
    lam = cloud.client("lambda")
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"OUT": url}})
    fn_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    description = unique("to-lambda")
    events = cloud.client("events")
    rule = unique("rule")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {"source": ["aws.kms"], "detail": {"requestParameters": {"description": [description]}}}
        ),
    )
    events.put_targets(
        Rule=rule,
        Targets=[
            {
                "Id": "fn",
                "Arn": fn_arn,
                "DeadLetterConfig": {"Arn": dlq_arn},
                "RetryPolicy": {"MaximumRetryAttempts": 0},
            }
        ],
    )
    sqs = cloud.client("sqs")
    # without a resource-based policy letting EventBridge invoke it, the event goes to the target's DLQ
    cloud.client("kms").create_key(Description=description)
    refused = wait_for(lambda: receive_all(sqs, dlq_url), timeout=30)
    assert [json.loads(m["Body"])["detail"]["eventName"] for m in refused] == ["CreateKey"]
    assert receive_all(sqs, url) == []
    rule_arn = events.describe_rule(Name=rule)["Arn"]
    lam.add_permission(
        FunctionName=name,
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    cloud.client("kms").create_key(Description=description)
    got = wait_for(lambda: receive_all(sqs, url), timeout=30)
    assert [json.loads(m["Body"]) for m in got] == ["CreateKey"]


def test_code_that_is_not_a_zip_fails_the_invocation_cleanly(cloud, unique, make_role) -> None:
    lam = cloud.client("lambda")
    name = unique("badzip")
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=make_role(), Handler="app.handler", Code={"ZipFile": b"not a zip"}
    )
    try:
        lam.invoke(FunctionName=name, Payload=b"{}")
    except lam.exceptions.InvalidParameterValueException as exc:
        assert "not a valid zip" in str(exc)
    else:
        raise AssertionError("expected InvalidParameterValueException")


def test_a_cloud_started_with_a_relative_data_dir_gives_functions_a_usable_ca(tmp_path, monkeypatch) -> None:
    """`kmslab local up` in a project folder keeps its data under ``.kmslab/local``, a relative path; the
    function's worker runs in its code folder, so the CA bundle it is given must not be relative."""
    from pathlib import Path

    from tests.cloud.alerts.conftest import TRUST_LAMBDA
    from tests.cloud.conftest import _start

    monkeypatch.chdir(tmp_path)
    running = _start(Path(".kmslab/local"), tls=True)
    try:
        role = running.client("iam").create_role(
            RoleName="relative-fn", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA)
        )["Role"]["Arn"]
        running.client("lambda").create_function(
            FunctionName="relative-fn", Runtime="python3.12", Role=role, Handler="app.handler", Timeout=30,
            Code={"ZipFile": zip_of({"app.py": CODE})},
        )  # fmt: skip
        out = running.client("lambda").invoke(FunctionName="relative-fn", Payload=b"{}")
        assert "FunctionError" not in out, out["Payload"].read()
        assert ":assumed-role/relative-fn/" in json.loads(out["Payload"].read())["who"]
    finally:
        running.cloud.stop()
