"""S3 data events: GetObject/PutObject records in a trail's log files only when its selectors select them."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloud.cloudtrail._policies import bucket_policy
from tests.cloud.conftest import Running


@pytest.fixture
def trail(cloud: Running, unique: Callable[[str], str]) -> Iterator[dict[str, str]]:
    """A logging trail (no selectors yet) and a data bucket with one object."""
    account = cloud.cloud.kms.account
    name, logs_bucket, data = unique("trail"), unique("trail-logs"), unique("data")
    arn = f"arn:aws:cloudtrail:us-east-1:{account}:trail/{name}"
    s3, ct = cloud.client("s3"), cloud.client("cloudtrail")
    s3.create_bucket(Bucket=logs_bucket)
    s3.put_bucket_policy(Bucket=logs_bucket, Policy=bucket_policy(logs_bucket, account, arn))
    s3.create_bucket(Bucket=data)
    ct.create_trail(Name=name, S3BucketName=logs_bucket)
    ct.start_logging(Name=name)
    yield {"name": name, "arn": arn, "logs": logs_bucket, "data": data}
    ct.delete_trail(Name=name)


def _delivered(cloud: Running, trail: dict[str, str]) -> list[dict[str, Any]]:
    assert cloud.cloud.recorder is not None
    cloud.cloud.recorder.flush()
    s3 = cloud.client("s3")
    listed = s3.list_objects_v2(Bucket=trail["logs"], Prefix=f"AWSLogs/{cloud.cloud.kms.account}/CloudTrail/")
    records = []
    for item in listed.get("Contents", []):
        body = s3.get_object(Bucket=trail["logs"], Key=item["Key"])["Body"].read()
        records += json.loads(gzip.decompress(body))["Records"]
    return records


def _s3_events(records: list[dict[str, Any]], bucket: str) -> list[dict[str, Any]]:
    return [r for r in records if r["eventSource"] == "s3.amazonaws.com" and bucket in json.dumps(r["resources"])]


def _traffic(cloud: Running, bucket: str, *keys: str) -> None:
    s3 = cloud.client("s3")
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"twelve bytes")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"twelve bytes"


def test_no_selector_no_data_events(cloud: Running, trail: dict[str, str]) -> None:
    _traffic(cloud, trail["data"], "a.txt")
    assert _s3_events(_delivered(cloud, trail), trail["data"]) == []
    assert (
        cloud.client("cloudtrail").get_event_selectors(TrailName=trail["name"])["EventSelectors"][0]["DataResources"]
        == []
    )


def test_basic_selector_logs_get_and_put_as_cloudtrail_writes_them(cloud: Running, trail: dict[str, str]) -> None:
    ct, data = cloud.client("cloudtrail"), trail["data"]
    selectors = [
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{data}/logged/"]}],
        }
    ]
    ct.put_event_selectors(TrailName=trail["name"], EventSelectors=selectors)
    assert (
        ct.get_event_selectors(TrailName=trail["name"])["EventSelectors"][0]["DataResources"]
        == (selectors[0]["DataResources"])
    )
    _traffic(cloud, data, "logged/report.csv", "elsewhere/skipped.csv")
    events = _s3_events(_delivered(cloud, trail), data)
    assert [(e["eventName"], e["requestParameters"]["key"]) for e in events] == [
        ("PutObject", "logged/report.csv"),
        ("GetObject", "logged/report.csv"),
    ]
    put, get = events
    account = cloud.cloud.kms.account
    assert put["resources"] == [
        {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{data}/logged/report.csv"},
        {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{data}"},
    ]
    assert put["requestParameters"]["bucketName"] == data
    assert put["requestParameters"]["Host"] == f"{data}.s3.us-east-1.amazonaws.com"
    assert (put["readOnly"], get["readOnly"]) == (False, True)
    assert put["managementEvent"] is False and put["eventCategory"] == "Data"
    assert put["userIdentity"]["arn"].endswith(":user/admin")
    assert put["additionalEventData"]["bytesTransferredIn"] == 12
    assert get["additionalEventData"]["bytesTransferredOut"] == 12
    assert get["responseElements"] is None
    # event history stays management events only, as on AWS
    lookup = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "s3.amazonaws.com"}])
    assert lookup["Events"] == []


def test_write_only_selector_and_refused_reads(cloud: Running, trail: dict[str, str]) -> None:
    ct, data = cloud.client("cloudtrail"), trail["data"]
    ct.put_event_selectors(
        TrailName=trail["name"],
        EventSelectors=[
            {"ReadWriteType": "WriteOnly", "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}
        ],
    )
    _traffic(cloud, data, "w.txt")
    assert [e["eventName"] for e in _s3_events(_delivered(cloud, trail), data)] == ["PutObject"]
    ct.put_event_selectors(
        TrailName=trail["name"],
        EventSelectors=[
            {"ReadWriteType": "ReadOnly", "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}
        ],
    )
    iam = cloud.client("iam")
    iam.create_user(UserName=trail["name"])  # no policy: S3 refuses it
    key = iam.create_access_key(UserName=trail["name"])["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    with pytest.raises(ClientError) as denied:
        cloud.client("s3", creds=creds).get_object(Bucket=data, Key="w.txt")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    refused = [e for e in _s3_events(_delivered(cloud, trail), data) if e.get("errorCode")]
    assert [(e["eventName"], e["errorCode"]) for e in refused] == [("GetObject", "AccessDenied")]
    assert refused[0]["userIdentity"]["arn"].endswith(f":user/{trail['name']}")


def test_advanced_selectors_pick_by_category_type_arn_and_read_only(cloud: Running, trail: dict[str, str]) -> None:
    ct, data = cloud.client("cloudtrail"), trail["data"]
    advanced = [
        {
            "Name": "reads of reports",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                {"Field": "resources.ARN", "StartsWith": [f"arn:aws:s3:::{data}/reports/"]},
                {"Field": "readOnly", "Equals": ["true"]},
            ],
        },
        {"Name": "management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
    ]
    ct.put_event_selectors(TrailName=trail["name"], AdvancedEventSelectors=advanced)
    _traffic(cloud, data, "reports/q1.csv", "other/q1.csv")
    marker = cloud.client("kms").create_key(Description="management still logged")["KeyMetadata"]["KeyId"]
    records = _delivered(cloud, trail)
    events = _s3_events(records, data)
    assert [(e["eventName"], e["requestParameters"]["key"]) for e in events] == [("GetObject", "reports/q1.csv")]
    assert any(marker in json.dumps(r) for r in records if r["eventSource"] == "kms.amazonaws.com")


def test_invalid_data_resources_are_refused(cloud: Running, trail: dict[str, str]) -> None:
    with pytest.raises(ClientError) as bad:
        cloud.client("cloudtrail").put_event_selectors(
            TrailName=trail["name"],
            EventSelectors=[{"DataResources": [{"Type": "AWS::S3::Object", "Values": ["my-bucket/"]}]}],
        )
    assert bad.value.response["Error"]["Code"] == "InvalidEventSelectorsException"
