"""LookupEvents with identities: the caller's IAM policies must allow ``cloudtrail:LookupEvents`` (issue 11 item 9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kmslab.endpoint import build_endpoint
from kmslab.kms.authz import parse_identities

pytestmark = pytest.mark.functional

ACCT = "111122223333"
ROOT = f"arn:aws:iam::{ACCT}:root"
NOBODY = f"arn:aws:iam::{ACCT}:user/nobody"
AUDITOR = f"arn:aws:iam::{ACCT}:user/auditor"
FENCED = f"arn:aws:iam::{ACCT}:user/fenced"


def _iam(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


IDENTITIES = [
    (ROOT, "AKIAROOT000000000000", []),
    (NOBODY, "AKIANOBODY0000000000", []),
    (
        AUDITOR,
        "AKIAAUDITOR000000000",
        [_iam({"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"})],
    ),
    (
        FENCED,
        "AKIAFENCED0000000000",
        [
            _iam(
                {"Effect": "Allow", "Action": "cloudtrail:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "cloudtrail:Lookup*", "Resource": "*"},
            )
        ],
    ),
]


def _client(service: str, url: str, access_key: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key="secret-" + access_key,
        config=Config(retries={"max_attempts": 1}),
    )


def test_lookup_events_needs_cloudtrail_lookup_events_in_the_callers_iam_policies(tmp_path: Path) -> None:
    store = parse_identities(
        {
            "account": ACCT,
            "identities": [
                {"arn": arn, "access_key_id": key, "secret_access_key": "secret-" + key, "policies": policies}
                for arn, key, policies in IDENTITIES
            ],
        }
    )
    server = build_endpoint(data_dir=None, trail_dir=tmp_path / "trail", identities=store).server.start()
    try:
        key_arn = _client("kms", server.url, "AKIAROOT000000000000").create_key()["KeyMetadata"]["Arn"]
        auditor = _client("cloudtrail", server.url, "AKIAAUDITOR000000000")
        events = auditor.lookup_events()["Events"]
        assert [(e["EventName"], e["Resources"][0]["ResourceName"]) for e in events] == [("CreateKey", key_arn)]
        assert _client("cloudtrail", server.url, "AKIAROOT000000000000").lookup_events()["Events"]

        with pytest.raises(ClientError) as exc:
            _client("cloudtrail", server.url, "AKIANOBODY0000000000").lookup_events()
        assert exc.value.response["Error"] == {
            "Code": "AccessDeniedException",
            "Message": f"User: {NOBODY} is not authorized to perform: cloudtrail:LookupEvents "
            "because no identity-based policy allows the cloudtrail:LookupEvents action",
        }
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        with pytest.raises(ClientError) as exc:
            _client("cloudtrail", server.url, "AKIAFENCED0000000000").lookup_events()
        assert exc.value.response["Error"]["Message"] == (
            f"User: {FENCED} is not authorized to perform: cloudtrail:LookupEvents "
            "with an explicit deny in an identity-based policy"
        )
    finally:
        server.stop()
