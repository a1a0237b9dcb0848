"""The trail holds standard JSON only, whatever a request held (issue 11 item 6).

A lone surrogate (a JSON ``"\\ud800"`` escape) or NaN/Infinity in a request used to reach the
CloudTrail file as written; DuckDB then refused the whole window ("no low surrogate in string"),
so ``kmslab audit query`` failed and the attacker's own denied calls vanished from the answer.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kmslab.cli import main
from kmslab.endpoint import build_endpoint
from kmslab.kms.authz import parse_identities
from kmslab.trail.record import records_json, standard_text, to_cloudtrail_record
from tests.trail.helpers import call

ACCT = "111122223333"
ROOT = f"arn:aws:iam::{ACCT}:root"
MALLORY = f"arn:aws:iam::{ACCT}:user/mallory"
ROOT_KEYS = ("AKIAROOT000000000000", "root-secret")
MALLORY_KEYS = ("AKIAMALLORY000000000", "mallory-secret")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _no_constants(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _strict_load(raw: bytes) -> Any:
    """Parse as a strict reader would: UTF-8, no NaN/Infinity, no surrogate escapes."""
    text = raw.decode("utf-8")
    assert not SURROGATE_ESCAPE.search(text), SURROGATE_ESCAPE.search(text)
    return json.loads(text, parse_constant=_no_constants)


def test_record_of_a_hostile_request_is_standard_json() -> None:
    request = {
        "KeyId": "k",
        "EncryptionContext": {"a\ud800": "\udfffb", "n": float("nan")},
        "GrantTokens": [float("inf"), float("-inf"), "t\ud83d"],
        "NumberOfBytes": float("nan"),
    }
    record = to_cloudtrail_record(call("GenerateDataKey", request, error=("ValidationException", "bad \ud800 value")))
    body = records_json([record])
    loaded = _strict_load(body)["Records"][0]
    assert loaded["requestParameters"]["encryptionContext"] == {"a\ufffd": "\ufffdb", "n": None}
    assert loaded["requestParameters"]["grantTokens"] == [None, None, "t\ufffd"]
    assert loaded["requestParameters"]["numberOfBytes"] is None
    assert loaded["errorMessage"] == "bad \ufffd value"
    assert request["EncryptionContext"] == {"a\ud800": "\udfffb", "n": request["EncryptionContext"]["n"]}


def test_records_json_refuses_what_is_not_standard_json() -> None:
    for bad in ({"x": float("nan")}, {"x": float("inf")}, {"x": "\ud800"}):
        with pytest.raises(ValueError):
            records_json([bad])
    assert standard_text("fine \U0001f600") == "fine \U0001f600"


def test_deeply_nested_parameters_are_still_recorded() -> None:
    nested: Any = "leaf"
    for _ in range(500):
        nested = [nested]
    record = to_cloudtrail_record(call("Encrypt", {"KeyId": "k", "EncryptionContext": {"a": nested}}))
    assert _strict_load(records_json([record]))["Records"][0]["requestParameters"]["keyId"] == "k"


def _client(url: str, keys: tuple[str, str], **config: Any) -> Any:
    return boto3.client(
        "kms",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        config=Config(retries={"max_attempts": 1}, **config),
    )


def _code(call: Any) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    return str(exc.value.response["Error"]["Code"])


@pytest.mark.functional
def test_hostile_strings_from_a_principal_without_permissions_leave_the_trail_readable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = parse_identities(
        {
            "account": ACCT,
            "identities": [
                {"arn": ROOT, "access_key_id": ROOT_KEYS[0], "secret_access_key": ROOT_KEYS[1]},
                {"arn": MALLORY, "access_key_id": MALLORY_KEYS[0], "secret_access_key": MALLORY_KEYS[1]},
            ],
        }
    )
    trail = tmp_path / "trail"
    endpoint = build_endpoint(data_dir=None, trail_dir=trail, identities=store)
    server = endpoint.server.start()
    try:
        key = _client(server.url, ROOT_KEYS).create_key()["KeyMetadata"]["Arn"]
        mallory = _client(server.url, MALLORY_KEYS, parameter_validation=False)
        assert _code(lambda: mallory.encrypt(KeyId=key, Plaintext=b"p", EncryptionContext={"a": "\ud800"})) == (
            "ValidationException"
        )
        assert _code(lambda: mallory.decrypt(CiphertextBlob=b"x" * 40, EncryptionContext={"\udc00": "b"})) == (
            "ValidationException"
        )
        assert _code(lambda: mallory.create_key(Description="\ud800")) == "ValidationException"
        assert _code(lambda: mallory.generate_random(NumberOfBytes=float("nan"))) == "ValidationException"
        assert _code(lambda: mallory.generate_random(NumberOfBytes=float("inf"))) == "ValidationException"
        assert _code(lambda: mallory.encrypt(KeyId=key, Plaintext=b"p")) == "AccessDeniedException"
    finally:
        server.stop()

    files = sorted(trail.rglob("*.json.gz"))
    assert files
    records = [r for f in files for r in _strict_load(gzip.decompress(f.read_bytes()))["Records"]]
    by_error = sorted((r["eventName"], r.get("errorCode")) for r in records if r["userIdentity"]["arn"] == MALLORY)
    assert by_error == [
        ("CreateKey", "ValidationException"),
        ("Decrypt", "ValidationException"),
        ("Encrypt", "AccessDenied"),
        ("Encrypt", "ValidationException"),
        ("GenerateRandom", "ValidationException"),
        ("GenerateRandom", "ValidationException"),
    ]
    assert status_and_rows(["access_denied_calls"], trail, capsys) == [(MALLORY, "Encrypt")]


def status_and_rows(name: list[str], trail: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str]]:
    try:
        status = main(["audit", "query", *name, "--trail-dir", str(trail), "--format", "json"])
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    assert status in (0, None), err
    rows = json.loads(out)  # one JSON array
    return sorted((row["principal"], row["operation"]) for row in rows)
