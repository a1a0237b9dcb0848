"""The gateway: one port routes by the SigV4 scope's service, verifies signatures, answers AWS-shaped errors."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import botocore.exceptions
import pytest

from tests.cloud.conftest import Running


def _raw(
    cloud: Running, path: str, *, method: str = "GET", body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    context = ssl.create_default_context(cafile=str(cloud.ca)) if cloud.ca else None
    req = urllib.request.Request(cloud.url + path, data=body or None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=context, timeout=10) as answer:  # noqa: S310 - test endpoint
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_routes_each_service_by_its_signing_scope(cloud: Running) -> None:
    assert cloud.client("sts", "alice").get_caller_identity()["Arn"].endswith(":user/alice")
    kms = cloud.client("kms")
    key = kms.create_key(Description="routing")["KeyMetadata"]
    assert key["KeyState"] == "Enabled"
    assert cloud.client("s3").list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    queue = cloud.client("sqs").create_queue(QueueName="routing-q")["QueueUrl"]
    assert queue.endswith("/111122223333/routing-q")
    assert cloud.client("dynamodb").list_tables()["TableNames"] == []
    assert cloud.client("logs").describe_log_groups()["logGroups"] == []


def test_health_reports_memory_only_services(cloud: Running) -> None:
    status, _, body = _raw(cloud, "/_kmslab/health")
    health = json.loads(body)
    assert status == 200
    assert "kms" in health["persistent"] and "s3" in health["persistent"]
    assert "sqs" in health["memory_only"]


def test_wrong_secret_is_refused_in_each_services_own_words(cloud: Running) -> None:
    creds = {"aws_access_key_id": cloud.creds("alice")["aws_access_key_id"], "aws_secret_access_key": "wrong" * 8}
    with pytest.raises(botocore.exceptions.ClientError) as kms_err:
        cloud.client("kms", creds=creds).list_keys()
    assert kms_err.value.response["Error"]["Code"] == "InvalidSignatureException"
    with pytest.raises(botocore.exceptions.ClientError) as s3_err:
        cloud.client("s3", creds=creds).list_buckets()
    assert s3_err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(botocore.exceptions.ClientError) as sts_err:
        cloud.client("sts", creds=creds).get_caller_identity()
    assert sts_err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_unknown_access_key_is_refused(cloud: Running) -> None:
    creds = {"aws_access_key_id": "AKIANOTKNOWN00000000", "aws_secret_access_key": "x" * 40}
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cloud.client("sqs", creds=creds).list_queues()
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    with pytest.raises(botocore.exceptions.ClientError) as s3_err:
        cloud.client("s3", creds=creds).list_buckets()
    assert s3_err.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_unsigned_json_request_is_refused_not_routed(cloud: Running) -> None:
    status, _, body = _raw(
        cloud,
        "/",
        method="POST",
        body=b"{}",
        headers={"X-Amz-Target": "TrentService.ListKeys", "Content-Type": "application/x-amz-json-1.1"},
    )
    assert status == 400
    assert json.loads(body)["__type"] == "MissingAuthenticationTokenException"


def test_iam_policies_decide_moto_served_actions(cloud: Running) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cloud.client("sqs", "bob").create_queue(QueueName="bob-q")
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "sqs:CreateQueue" in err.value.response["Error"]["Message"]
    assert cloud.client("sqs", "alice").create_queue(QueueName="alice-q")["QueueUrl"].endswith("alice-q")


def test_operation_moto_lacks_is_named_not_a_500(cloud: Running) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cloud.client("glue").batch_get_dev_endpoints(DevEndpointNames=["x"])
    error: dict[str, Any] = err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert error["Code"] == "NotImplemented" and "glue" in error["Message"]


@pytest.mark.parametrize(
    ("service", "headers", "body"),
    [
        ("kms", {"X-Amz-Target": "TrentService.Encrypt"}, b"{not json"),
        ("sqs", {"X-Amz-Target": "AmazonSQS.SendMessage"}, b"[1,2"),
        ("dynamodb", {"X-Amz-Target": "DynamoDB_20120810.PutItem"}, b'{"TableName": 5}'),
        ("logs", {"X-Amz-Target": "Logs_20140328.PutLogEvents"}, b'{"logGroupName": []}'),
        ("events", {"X-Amz-Target": "AWSEvents.PutEvents"}, b'{"Entries": "x"}'),
        ("glue", {"X-Amz-Target": "AWSGlue.CreateTable"}, b"{}"),
        ("athena", {"X-Amz-Target": "AmazonAthena.GetQueryExecution"}, b"{}"),
        ("cloudtrail", {"X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.GetTrail"}, b"{}"),
        ("ssm", {"X-Amz-Target": "AmazonSSM.GetParameter"}, b"{}"),
        ("secretsmanager", {"X-Amz-Target": "secretsmanager.GetSecretValue"}, b"{}"),
        ("sts", {"Content-Type": "application/x-www-form-urlencoded"}, b"Action=AssumeRole&Version=2011-06-15"),
        ("iam", {"Content-Type": "application/x-www-form-urlencoded"}, b"Action=GetUser&UserName=%%%"),
        ("sns", {"Content-Type": "application/x-www-form-urlencoded"}, b"Action=Publish&Version=2010-03-31"),
        ("s3", {}, b"<not-xml"),
    ],
)
def test_malformed_requests_get_aws_shaped_4xx_and_the_server_still_answers(
    cloud: Running, service: str, headers: dict[str, str], body: bytes
) -> None:
    import hashlib

    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    path = "/malformed-bucket?policy" if service == "s3" else "/"
    method = "PUT" if service == "s3" else "POST"
    if service == "s3":
        s3 = cloud.client("s3")
        if "malformed-bucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket="malformed-bucket")
        headers = {**headers, "x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
    if "X-Amz-Target" in headers:
        version = "1.0" if service in ("sqs", "dynamodb") else "1.1"
        headers = {**headers, "Content-Type": f"application/x-amz-json-{version}"}
    request = botocore.awsrequest.AWSRequest(method=method, url=cloud.url + path, data=body, headers=headers)
    admin = cloud.creds("admin")
    creds = botocore.credentials.Credentials(admin["aws_access_key_id"], admin["aws_secret_access_key"])
    signer = botocore.auth.S3SigV4Auth if service == "s3" else botocore.auth.SigV4Auth
    signer(creds, service, "us-east-1").add_auth(request)
    status, answer_headers, raw = _raw(cloud, path, method=method, body=body, headers=dict(request.headers.items()))
    assert 400 <= status < 500, (status, raw[:300])
    text = raw.decode()
    if service in ("s3", "sts", "iam", "sns"):
        assert "<Code>" in text and "<Message>" in text
    else:
        assert "__type" in json.loads(text)
    assert cloud.client("sts").get_caller_identity()["Account"] == "111122223333"


def test_connections_stay_open_across_requests_including_streamed_uploads(cloud: Running) -> None:
    s3 = cloud.client("s3", "alice")
    s3.create_bucket(Bucket="keepalive-bucket")
    import io

    before = cloud.cloud.server.connections
    for i in range(10):
        s3.put_object(Bucket="keepalive-bucket", Key=f"k{i}", Body=io.BytesIO(b"streamed body"))  # aws-chunked
        assert s3.get_object(Bucket="keepalive-bucket", Key=f"k{i}")["Body"].read() == b"streamed body"
    assert cloud.cloud.server.connections - before <= 2


@pytest.mark.parametrize(
    "raw",
    [
        b"NOT-HTTP\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: -5\r\n\r\n",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\n{}{}",
    ],
    ids=["garbage", "negative-length", "long-line", "unsigned-post"],
)
def test_broken_http_gets_an_aws_shaped_answer_and_the_server_keeps_serving(cloud: Running, raw: bytes) -> None:
    import socket

    context = ssl.create_default_context(cafile=str(cloud.ca))
    answer = b""
    sock = socket.create_connection(("127.0.0.1", cloud.cloud.server.port), timeout=10)
    with context.wrap_socket(sock, server_hostname="localhost") as tls:
        tls.sendall(raw)
        while chunk := tls.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1].startswith(b"4"), head[:100]
    assert b"<html" not in body.lower()
    assert b"<Code>" in body or "__type" in json.loads(body)
    assert cloud.client("sts").get_caller_identity()["Account"] == "111122223333"
