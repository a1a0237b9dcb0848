"""End to end: real boto3 clients sign with per-identity keys; SigV4Resolver verifies; the engine asks KmsAuthorizer.

Includes the course notes' grant walk-through (Bob denied; Alice, a key user, grants him
Encrypt/Decrypt; Bob's same call succeeds with the grant token) and the lockout lesson.
"""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from click.testing import CliRunner

from kmslab.kms.authz import KmsAuthorizer, SigV4Resolver, parse_identities
from kmslab.kms.authz.cli import explain as explain_cmd
from kmslab.kms.engine import LocalKms
from kmslab.kms.server import KmsServer

ACCT = "111122223333"
ROOT = f"arn:aws:iam::{ACCT}:root"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
CAROL = f"arn:aws:iam::{ACCT}:user/carol"
DAN = f"arn:aws:iam::{ACCT}:user/dan"
IDENTITIES: dict[str, Any] = {
    "account": ACCT,
    "identities": [
        {"arn": ROOT, "access_key_id": "AKIAROOT000000000000", "secret_access_key": "root-secret"},
        {"arn": ALICE, "access_key_id": "AKIAALICE00000000000", "secret_access_key": "alice-secret"},
        {"arn": BOB, "access_key_id": "AKIABOB0000000000000", "secret_access_key": "bob-secret"},
        {"arn": CAROL, "access_key_id": "AKIACAROL00000000000", "secret_access_key": "carol-secret"},
        {
            "arn": DAN,
            "access_key_id": "AKIADAN0000000000000",
            "secret_access_key": "dan-secret",
            "policies": [
                {"Statement": [{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"}]}
            ],
        },
    ],
}
KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": ROOT},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "Allow use of the key",
            "Effect": "Allow",
            "Principal": {"AWS": [ALICE]},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*",
        },
        {
            "Sid": "Allow grants",
            "Effect": "Allow",
            "Principal": {"AWS": [ALICE]},
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Resource": "*",
        },
    ],
}


@pytest.fixture
def endpoint() -> Iterator[str]:
    store = parse_identities(IDENTITIES)
    kms = LocalKms(None, account=ACCT, authorizer=KmsAuthorizer(store))
    server = KmsServer(kms, host="127.0.0.1", port=0, identity_resolver=SigV4Resolver(store)).start()
    try:
        yield server.url
    finally:
        server.stop()


def client(url: str, who: str, secret: str | None = None) -> BaseClient:
    entry = next(i for i in IDENTITIES["identities"] if i["arn"] == who)
    return boto3.client(
        "kms",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=entry["access_key_id"],
        aws_secret_access_key=secret or entry["secret_access_key"],
        config=Config(retries={"max_attempts": 1}),
    )


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def test_grant_walkthrough_and_identity_policies(endpoint: str) -> None:
    root, alice, bob, dan = (client(endpoint, who) for who in (ROOT, ALICE, BOB, DAN))
    key_arn = root.create_key(Policy=json.dumps(KEY_POLICY))["KeyMetadata"]["Arn"]
    root.create_alias(AliasName="alias/DemoKey", TargetKeyId=key_arn)

    with pytest.raises(ClientError) as exc:
        bob.encrypt(KeyId="alias/DemoKey", Plaintext=b"CloudAcademy")
    assert error(exc) == (
        "AccessDeniedException",
        f"User: {BOB} is not authorized to perform: kms:Encrypt on resource: {key_arn} "
        "because no identity-based policy allows the kms:Encrypt action",
    )
    assert alice.encrypt(KeyId="alias/DemoKey", Plaintext=b"CloudAcademy")["KeyId"] == key_arn

    grant = alice.create_grant(KeyId=key_arn, GranteePrincipal=BOB, Operations=["Encrypt", "Decrypt"])
    blob = bob.encrypt(KeyId=key_arn, Plaintext=b"Friday", GrantTokens=[grant["GrantToken"]])["CiphertextBlob"]
    assert bob.decrypt(CiphertextBlob=blob)["Plaintext"] == b"Friday"
    with pytest.raises(ClientError) as exc:
        bob.create_grant(KeyId=key_arn, GranteePrincipal=CAROL, Operations=["Decrypt"])
    assert error(exc)[0] == "AccessDeniedException"

    # Dan: allowed by his IAM policy, because the key policy lets IAM policies decide.
    assert dan.encrypt(KeyId=key_arn, Plaintext=b"x")["KeyId"] == key_arn
    with pytest.raises(ClientError) as exc:
        dan.decrypt(CiphertextBlob=blob)
    assert error(exc)[0] == "AccessDeniedException"


def test_grant_constraints_through_the_endpoint(endpoint: str) -> None:
    root, alice, carol = (client(endpoint, who) for who in (ROOT, ALICE, CAROL))
    key_arn = root.create_key(Policy=json.dumps(KEY_POLICY))["KeyMetadata"]["Arn"]
    alice.create_grant(
        KeyId=key_arn,
        GranteePrincipal=CAROL,
        Operations=["Encrypt"],
        Constraints={"EncryptionContextSubset": {"dept": "sales"}},
    )
    carol.encrypt(KeyId=key_arn, Plaintext=b"x", EncryptionContext={"dept": "sales", "year": "2026"})
    with pytest.raises(ClientError) as exc:
        carol.encrypt(KeyId=key_arn, Plaintext=b"x", EncryptionContext={"dept": "hr"})
    assert error(exc)[0] == "AccessDeniedException"


def test_signature_failures_over_http(endpoint: str) -> None:
    with pytest.raises(ClientError) as exc:
        client(endpoint, ALICE, secret="wrong").list_keys()
    assert error(exc) == (
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    )
    stranger = boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIASTRANGER00000000",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as exc:
        stranger.list_keys()
    assert error(exc) == ("UnrecognizedClientException", "The security token included in the request is invalid.")


def test_lockout_check_and_bypass(endpoint: str) -> None:
    root = client(endpoint, ROOT)
    only_alice = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "kms:*", "Resource": "*"}],
    }
    with pytest.raises(ClientError) as exc:
        root.create_key(Policy=json.dumps(only_alice))
    assert error(exc) == (
        "MalformedPolicyDocumentException",
        "The new key policy will not allow you to update the key policy in the future.",
    )
    key_arn = root.create_key(Policy=json.dumps(only_alice), BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as exc:
        root.describe_key(KeyId=key_arn)
    assert error(exc)[1].startswith(f"User: {ROOT} is not authorized to perform: kms:DescribeKey")
    assert client(endpoint, ALICE).describe_key(KeyId=key_arn)["KeyMetadata"]["Arn"] == key_arn


def test_explain_command_against_the_endpoint(endpoint: str, tmp_path: Path) -> None:
    root, alice = client(endpoint, ROOT), client(endpoint, ALICE)
    key_arn = root.create_key(Policy=json.dumps(KEY_POLICY))["KeyMetadata"]["Arn"]
    grant_id = alice.create_grant(KeyId=key_arn, GranteePrincipal=BOB, Operations=["Decrypt"])["GrantId"]
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(IDENTITIES))
    base = ["--endpoint", endpoint, "--identities", str(ids), "--key", key_arn, "--json"]
    out = CliRunner().invoke(explain_cmd, [*base, "--principal", BOB, "--action", "kms:Decrypt"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["allowed"] is True
    assert data["deciding"][0]["source"] == f"grant {grant_id}"
    out = CliRunner().invoke(explain_cmd, [*base, "--principal", BOB, "--action", "kms:Encrypt"])
    assert json.loads(out.output)["allowed"] is False


def _replay(url: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_captured_schedule_key_deletion_cannot_be_reaimed(endpoint: str) -> None:
    """Issue 11 item 2: a signed request's body is bound by the signature, whatever headers are added."""
    root = client(endpoint, ROOT)
    decoy = root.create_key()["KeyMetadata"]["KeyId"]
    victim = root.create_key()["KeyMetadata"]["KeyId"]
    captured: list[tuple[dict[str, str], bytes]] = []

    def capture(request: Any, **_: Any) -> None:
        captured.append((dict(request.headers.items()), bytes(request.body)))

    root.meta.events.register("before-send.kms.ScheduleKeyDeletion", capture)
    root.schedule_key_deletion(KeyId=decoy, PendingWindowInDays=30)
    headers, body = captured[0]
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in headers.items() if k != "Content-Length"}
    reaimed = body.replace(decoy.encode(), victim.encode()).replace(b"30", b"7")
    assert reaimed != body
    for extra in ({}, {"X-Amz-Content-Sha256": hashlib.sha256(body).hexdigest()}):
        status, answer = _replay(endpoint, {**headers, **extra}, reaimed)
        assert (status, answer["__type"]) == (400, "InvalidSignatureException"), answer
    assert root.describe_key(KeyId=victim)["KeyMetadata"]["KeyState"] == "Enabled"


def test_unsigned_target_cannot_turn_describe_key_into_disable_key(endpoint: str) -> None:
    """Issue 11 item 3: a signature over host and x-amz-date only no longer carries a swappable target."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class HostAndDateOnly(SigV4Auth):
        def headers_to_sign(self, request: AWSRequest) -> Any:
            headers = super().headers_to_sign(request)
            for name in list(headers.keys()):
                if name.lower() not in ("host", "x-amz-date"):
                    del headers[name]
            return headers

    root = client(endpoint, ROOT)
    key_id = root.create_key()["KeyMetadata"]["KeyId"]
    body = json.dumps({"KeyId": key_id}).encode()
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.DescribeKey"},
    )
    HostAndDateOnly(Credentials("AKIAROOT000000000000", "root-secret"), "kms", "us-east-1").add_auth(request)
    headers = {k: str(v) for k, v in request.headers.items() if k != "Content-Length"}
    assert "SignedHeaders=host;x-amz-date," in headers["Authorization"]
    headers["X-Amz-Target"] = "TrentService.DisableKey"
    status, answer = _replay(endpoint, headers, body)
    assert (status, answer["__type"]) == (400, "InvalidSignatureException"), answer
    assert root.describe_key(KeyId=key_id)["KeyMetadata"]["Enabled"] is True
