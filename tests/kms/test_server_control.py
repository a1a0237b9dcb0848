"""Issue 11 item 1: control routes (``/_kmslab/*``) are authenticated, refuse browsers, keep the clock in range."""

from __future__ import annotations

import http.client
import json
import os
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from kmslab.cli import main
from kmslab.kms import LocalKms
from kmslab.kms._clockfile import MAX_CLOCK
from kmslab.kms.authz import KmsAuthorizer, SigV4Resolver, parse_identities
from kmslab.kms.authz.errors import IdentityFileError
from kmslab.kms.control import TOKEN_FILE, TOKEN_HEADER, ControlClient, EndpointError
from kmslab.kms.server import MAX_ADVANCE_SECONDS, KmsServer, build_server

ACCT = "111122223333"
ADMIN = ("AKIAADMIN00000000000", "admin-secret")
ALICE = ("AKIAALICE00000000000", "alice-secret")
IDENTITIES: dict[str, Any] = {
    "account": ACCT,
    "identities": [
        {"arn": f"arn:aws:iam::{ACCT}:root", "access_key_id": "AKIAROOT000000000000", "secret_access_key": "r"},
        {
            "arn": f"arn:aws:iam::{ACCT}:user/admin",
            "access_key_id": ADMIN[0],
            "secret_access_key": ADMIN[1],
            "admin": True,
        },
        {"arn": f"arn:aws:iam::{ACCT}:user/alice", "access_key_id": ALICE[0], "secret_access_key": ALICE[1]},
    ],
}


def send(server: KmsServer, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def kms_client(server: KmsServer, keys: tuple[str, str] = ("AKIAROOT000000000000", "r")) -> Any:
    return boto3.client(
        "kms",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KmsServer]:
    with build_server(data_dir=str(tmp_path / "kms"), port=0) as srv:
        yield srv


@pytest.fixture
def signed_server() -> Iterator[KmsServer]:
    store = parse_identities(IDENTITIES)
    kms = LocalKms(None, account=ACCT, authorizer=KmsAuthorizer(store))
    with KmsServer(kms, port=0, identity_resolver=SigV4Resolver(store)) as srv:
        yield srv


def test_csrf_style_clock_post_cannot_complete_a_pending_deletion(server: KmsServer) -> None:
    kms = kms_client(server)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)
    before = server.kms.clock.now()
    # What a web page can send without a preflight: text/plain, with the page's Origin.
    status, answer = send(
        server,
        "POST",
        "/_kmslab/clock",
        b'{"advanceSeconds": 3110400}',
        {"Content-Type": "text/plain", "Origin": "https://evil.example"},
    )
    assert (status, answer["__type"]) == (403, "AccessDeniedException")
    status, answer = send(server, "POST", "/_kmslab/clock", b'{"advanceSeconds": 3110400}', {})
    assert status in (400, 403) and answer["__type"] in ("AccessDeniedException", "ValidationException")
    status, answer = send(
        server, "POST", "/_kmslab/clock", b'{"advanceSeconds": 3110400}', {"Content-Type": "application/json"}
    )
    assert (status, answer["__type"]) == (403, "AccessDeniedException")
    assert "control token" in answer["message"]
    assert server.kms.clock.now() - before < timedelta(minutes=5)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"Origin": "http://127.0.0.1:8000"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Mode": "no-cors"}, 403),
        ({"Content-Type": "text/plain;charset=UTF-8"}, 403),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 403),
        ({"Content-Type": "multipart/form-data; boundary=x"}, 403),
        ({"Content-Type": "application/xml"}, 400),
    ],
)
def test_browser_style_requests_are_refused_even_with_the_token(
    server: KmsServer, extra: dict[str, str], status: int
) -> None:
    before = server.kms.clock.now()
    headers = {TOKEN_HEADER: server.control_token, "Content-Type": "application/json", **extra}
    got, answer = send(server, "POST", "/_kmslab/clock", b'{"advanceSeconds": 60}', headers)
    assert got == status
    assert set(answer) == {"__type", "message"} and answer["message"]
    assert server.kms.clock.now() - before < timedelta(seconds=30)
    if "Origin" in extra or "Sec-Fetch-Site" in extra:  # reading is refused to browsers too
        got, answer = send(server, "GET", "/_kmslab/health", None, extra)
        assert (got, answer["__type"]) == (403, "AccessDeniedException")


def test_health_shows_the_account_only_to_authorized_callers(server: KmsServer) -> None:
    status, answer = send(server, "GET", "/_kmslab/health", None, {})
    assert (status, answer) == (200, {"status": "ok", "service": "kmslab-kms"})
    status, answer = send(server, "GET", "/_kmslab/health", None, {TOKEN_HEADER: "0" * 64})
    assert (status, answer) == (200, {"status": "ok", "service": "kmslab-kms"})
    status, answer = send(server, "GET", "/_kmslab/health", None, {TOKEN_HEADER: server.control_token})
    assert status == 200 and answer["account"] == ACCT and "now" in answer
    status, answer = send(server, "GET", "/_kmslab/clock", None, {})
    assert (status, answer["__type"]) == (403, "AccessDeniedException")


def test_clock_is_bounded_and_the_endpoint_keeps_answering(server: KmsServer) -> None:
    control = ControlClient(server.url)  # an in-process helper: finds the token by URL
    kms = kms_client(server)
    refused = None
    for _ in range(100):  # the attack: ~80 maximal advances overflowed the clock
        try:
            control.advance(timedelta(seconds=MAX_ADVANCE_SECONDS))
        except EndpointError as exc:
            refused = str(exc)
            break
    assert refused is not None and "ValidationException" in refused and "9900-01-01" in refused
    assert server.kms.clock.now() <= MAX_CLOCK
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]  # no 500: schedules still fit
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=2560)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)
    assert len(kms.list_keys()["Keys"]) == 1
    status, answer = send(
        server,
        "POST",
        "/_kmslab/clock",
        b'{"advanceSeconds": 1e300}',
        {TOKEN_HEADER: server.control_token, "Content-Type": "application/json"},
    )
    assert (status, answer["__type"]) == (400, "ValidationException")


def test_token_file_is_private_and_read_by_a_separate_client(server: KmsServer, tmp_path: Path) -> None:
    token_file = tmp_path / "kms" / TOKEN_FILE
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert token_file.read_text() == server.control_token
    before = server.kms.clock.now()
    with pytest.raises(EndpointError, match="AccessDeniedException"):
        ControlClient(server.url, token="f" * 64).advance(timedelta(hours=1))
    now = ControlClient(server.url, data_dir=tmp_path / "kms").advance(timedelta(hours=1))
    assert now - before >= timedelta(hours=1)


def test_advance_time_cli_needs_the_data_dir(server: KmsServer, tmp_path: Path, capsys: Any) -> None:
    def run(*argv: str) -> tuple[int, str, str]:
        try:
            status = main(["kms", "advance-time", "--endpoint", server.url, *argv])
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return status, out, err

    # in this process the registry would find the token: hide it to act as a separate process
    from kmslab.kms import control

    saved = dict(control._REGISTRY)
    control._REGISTRY.clear()
    try:
        status, out, err = run("--hours", "1", "--data-dir", str(tmp_path / "elsewhere"))
        assert status == 2 and out == "" and len(err.strip().splitlines()) == 1
        assert "AccessDeniedException" in err and "control token" in err
        status, out, err = run("--hours", "1", "--data-dir", str(tmp_path / "kms"))
        assert status == 0 and out.startswith("local KMS time is now "), err
    finally:
        control._REGISTRY.update(saved)


def test_admin_identity_may_sign_control_requests(signed_server: KmsServer) -> None:
    from kmslab.kms import control

    saved = dict(control._REGISTRY)
    control._REGISTRY.clear()  # act as another process: no token
    try:
        before = signed_server.kms.clock.now()
        admin = ControlClient(signed_server.url, credentials=ADMIN)
        assert admin.health()["account"] == ACCT
        assert admin.advance(timedelta(days=1)) - before >= timedelta(days=1)
        with pytest.raises(EndpointError, match="AccessDeniedException"):
            ControlClient(signed_server.url, credentials=ALICE).advance(timedelta(days=1))
        with pytest.raises(EndpointError, match="InvalidSignatureException"):
            ControlClient(signed_server.url, credentials=(ADMIN[0], "wrong")).advance(timedelta(days=1))
        assert "account" not in ControlClient(signed_server.url, credentials=ALICE).health()
        assert "account" not in ControlClient(signed_server.url).health()
        # the token works with identities on, too
        token = ControlClient(signed_server.url, token=signed_server.control_token)
        assert token.advance(timedelta(days=1)) - before >= timedelta(days=2)
    finally:
        control._REGISTRY.update(saved)
    # an admin is an admin of the control routes only, not of KMS
    with pytest.raises(Exception, match="AccessDenied"):
        kms_client(signed_server, ADMIN).create_key()


def test_admin_flag_must_be_a_boolean() -> None:
    bad = json.loads(json.dumps(IDENTITIES))
    bad["identities"][1]["admin"] = "yes"
    with pytest.raises(IdentityFileError, match=r"identities\[1\]\.admin: must be true or false"):
        parse_identities(bad)
    store = parse_identities(IDENTITIES)
    assert [i.admin for i in store.identities] == [False, True, False]
