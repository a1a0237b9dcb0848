"""Athena workgroups and named queries through the gateway: the API, IAM per workgroup, persistence across restarts."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kmslab.audit.queries import load_queries
from kmslab.cloud.config import CloudConfig
from kmslab.cloud.local import build_cloud
from tests.cloud.conftest import Running, _start


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    code: str = caught.value.response["Error"]["Code"]
    return code


def test_workgroup_lifecycle(cloud: Running, unique: Any) -> None:
    athena = cloud.client("athena")
    unchecked = cloud.client("athena", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    name = unique("wg")
    config = {
        "ResultConfiguration": {"OutputLocation": "s3://somewhere/results/"},
        "EnforceWorkGroupConfiguration": True,
        "BytesScannedCutoffPerQuery": 10_000_000,
    }
    athena.create_work_group(Name=name, Configuration=config, Description="first")
    with pytest.raises(ClientError) as caught:
        athena.create_work_group(Name=name)
    assert _code(caught) == "InvalidRequestException"
    got = athena.get_work_group(WorkGroup=name)["WorkGroup"]
    assert got["Configuration"] == config and got["Description"] == "first" and got["State"] == "ENABLED"
    athena.update_work_group(
        WorkGroup=name,
        Description="second",
        State="DISABLED",
        ConfigurationUpdates={
            "ResultConfigurationUpdates": {
                "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                "OutputLocation": "s3://other/place/",
            },
            "RemoveBytesScannedCutoffPerQuery": True,
        },
    )
    got = athena.get_work_group(WorkGroup=name)["WorkGroup"]
    assert got["State"] == "DISABLED" and got["Description"] == "second"
    assert got["Configuration"]["ResultConfiguration"] == {
        "OutputLocation": "s3://other/place/",
        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
    }
    assert "BytesScannedCutoffPerQuery" not in got["Configuration"]
    with pytest.raises(ClientError) as caught:
        athena.start_query_execution(QueryString="SELECT 1 FROM t", WorkGroup=name)
    assert _code(caught) == "InvalidRequestException" and "disabled" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        unchecked.update_work_group(WorkGroup=name, ConfigurationUpdates={"BytesScannedCutoffPerQuery": 5})
    assert _code(caught) == "InvalidRequestException"
    names, kwargs = [], {"MaxResults": 1}
    while True:  # one per page, following NextToken
        page = athena.list_work_groups(**kwargs)
        assert len(page["WorkGroups"]) == 1
        names += [g["Name"] for g in page["WorkGroups"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert "primary" in names and name in names
    athena.delete_work_group(WorkGroup=name)
    with pytest.raises(ClientError) as caught:
        athena.get_work_group(WorkGroup=name)
    assert _code(caught) == "InvalidRequestException"
    with pytest.raises(ClientError) as caught:
        athena.delete_work_group(WorkGroup="primary")
    assert _code(caught) == "InvalidRequestException"
    with pytest.raises(ClientError) as caught:
        athena.create_work_group(Name="bad name!")
    assert _code(caught) == "InvalidRequestException"
    with pytest.raises(ClientError) as caught:
        athena.create_work_group(
            Name=unique("wg"),
            Configuration={"ResultConfiguration": {"EncryptionConfiguration": {"EncryptionOption": "SSE_KMS"}}},
        )
    assert _code(caught) == "InvalidRequestException" and "KmsKey" in caught.value.response["Error"]["Message"]


def test_named_queries(cloud: Running, unique: Any) -> None:
    athena = cloud.client("athena")
    group = unique("wg")
    athena.create_work_group(Name=group)
    created = {}
    for query in load_queries():
        created[query.name] = athena.create_named_query(
            Name=query.name,
            Database="kmslab_audit",
            QueryString=query.sql,
            Description=query.description,
            WorkGroup=group,
        )["NamedQueryId"]
    one = athena.get_named_query(NamedQueryId=created["key_last_used"])["NamedQuery"]
    assert one["Name"] == "key_last_used" and one["WorkGroup"] == group and one["Database"] == "kmslab_audit"
    pages = athena.get_paginator("list_named_queries").paginate(WorkGroup=group, PaginationConfig={"PageSize": 4})
    listed = [i for p in pages for i in p["NamedQueryIds"]]
    assert sorted(listed) == sorted(created.values())
    batch = athena.batch_get_named_query(NamedQueryIds=[created["kms_calls_by_key"], "missing-id"])
    assert [q["Name"] for q in batch["NamedQueries"]] == ["kms_calls_by_key"]
    assert [u["NamedQueryId"] for u in batch["UnprocessedNamedQueryIds"]] == ["missing-id"]
    athena.delete_named_query(NamedQueryId=created["kms_calls_by_key"])
    with pytest.raises(ClientError) as caught:
        athena.get_named_query(NamedQueryId=created["kms_calls_by_key"])
    assert _code(caught) == "InvalidRequestException"
    with pytest.raises(ClientError) as caught:
        athena.delete_work_group(WorkGroup=group)  # not empty
    assert _code(caught) == "InvalidRequestException"
    athena.delete_work_group(WorkGroup=group, RecursiveDeleteOption=True)
    with pytest.raises(ClientError) as caught:
        athena.get_named_query(NamedQueryId=created["key_last_used"])
    assert _code(caught) == "InvalidRequestException"


def test_iam_is_checked_on_the_workgroup_arn(cloud: Running, unique: Any) -> None:
    admin = cloud.client("athena")
    mine, theirs = unique("mine"), unique("theirs")
    for name in (mine, theirs):
        admin.create_work_group(Name=name)
    iam = cloud.client("iam")
    user = unique("scoped")
    iam.create_user(UserName=user)
    arn = f"arn:aws:athena:us-east-1:{cloud.ids['account']}:workgroup/{mine}"
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "athena:*", "Resource": arn}]}
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    scoped = cloud.client(
        "athena", creds={"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    )
    query_id = scoped.create_named_query(Name="q", Database="d", QueryString="SELECT 1", WorkGroup=mine)["NamedQueryId"]
    assert scoped.get_named_query(NamedQueryId=query_id)["NamedQuery"]["WorkGroup"] == mine
    for call in (
        lambda: scoped.get_work_group(WorkGroup=theirs),
        lambda: scoped.create_named_query(Name="q", Database="d", QueryString="SELECT 1", WorkGroup=theirs),
        lambda: scoped.list_work_groups(),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert _code(caught) == "AccessDeniedException"


def test_workgroups_and_named_queries_survive_a_restart(tmp_path: Path) -> None:
    first = _start(tmp_path, tls=False)
    try:
        athena = first.client("athena")
        athena.create_work_group(
            Name="kept",
            Description="d",
            Configuration={"ResultConfiguration": {"OutputLocation": "s3://b/r/"}},
        )
        query_id = athena.create_named_query(Name="n", Database="db", QueryString="SELECT 1", WorkGroup="kept")[
            "NamedQueryId"
        ]
        athena.update_work_group(WorkGroup="primary", Description="changed primary")
    finally:
        first.cloud.stop()
    second = Running(
        build_cloud(CloudConfig(data_dir=tmp_path, port=0, tls=False), warm_moto=False).start(), tmp_path, first.ids
    )
    try:
        athena = second.client("athena")
        kept = athena.get_work_group(WorkGroup="kept")["WorkGroup"]
        assert kept["Configuration"] == {"ResultConfiguration": {"OutputLocation": "s3://b/r/"}}
        assert kept["Description"] == "d"
        assert athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]["QueryString"] == "SELECT 1"
        assert athena.get_work_group(WorkGroup="primary")["WorkGroup"]["Description"] == "changed primary"
        with urllib.request.urlopen(f"{second.url}/_kmslab/health", timeout=10) as answer:  # noqa: S310 - local
            health = json.load(answer)
        assert "athena query executions" in health["memory_only"] and "athena" not in health["memory_only"]
    finally:
        second.cloud.stop()


def test_redeploying_a_changed_workgroup_applies_its_configuration(cloud: Running, unique: Any) -> None:
    from kmslab.cloud.deploy.resources import ProvisionContext
    from kmslab.cloud.deploy.types.audit import WorkGroup

    ctx = ProvisionContext(
        account=cloud.ids["account"], region="us-east-1", stack_name="s", logical_id="Wg", client=cloud.client
    )
    name = unique("deployed")
    old = {
        "Name": name,
        "WorkGroupConfiguration": {
            "BytesScannedCutoffPerQuery": 20_000_000,
            "ResultConfiguration": {
                "OutputLocation": "s3://old/",
                "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": "alias/old"},
            },
        },
    }
    new = {
        "Name": name,
        "Description": "now",
        "WorkGroupConfiguration": {
            "EnforceWorkGroupConfiguration": False,
            "ResultConfiguration": {"OutputLocation": "s3://new/"},
        },
    }
    handler = WorkGroup()
    handler.create(old, ctx)
    handler.apply(name, old, new, ctx)
    got = cloud.client("athena").get_work_group(WorkGroup=name)["WorkGroup"]
    assert got["Description"] == "now"
    assert got["Configuration"] == new["WorkGroupConfiguration"]
    handler.delete(name, new, ctx)


def test_a_retried_create_with_the_same_client_request_token_is_not_repeated(cloud: Running) -> None:
    athena = cloud.client("athena")
    token = "t" * 40
    first = athena.create_named_query(Name="q", Database="d", QueryString="SELECT 1", ClientRequestToken=token)
    again = athena.create_named_query(Name="q", Database="d", QueryString="SELECT 1", ClientRequestToken=token)
    other = athena.create_named_query(Name="q", Database="d", QueryString="SELECT 1")
    assert first["NamedQueryId"] == again["NamedQueryId"] != other["NamedQueryId"]
