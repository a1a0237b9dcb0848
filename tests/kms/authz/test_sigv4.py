"""SigV4 verification against botocore's own signer.

AWS messages: UnrecognizedClientException "The security token included in the request is
invalid."; InvalidSignatureException "The request signature we calculated does not match the
signature you provided. Check your AWS Secret Access Key and signing method. Consult the
service documentation for details."; expired: "Signature expired: <date> is now earlier than
<now-15min> (<now> - 15 min.)" (as quoted in aws/aws-sdk-js#254).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from kmslab.kms.authz import SigV4Resolver, parse_identities
from kmslab.kms.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from kmslab.kms.seams import FixedClock

ACCT = "111122223333"
AKID = "AKIAALICE0000000TEST"
SECRET = "alice-secret/with+chars"
STORE = parse_identities(
    {
        "account": ACCT,
        "identities": [
            {"arn": f"arn:aws:iam::{ACCT}:user/alice", "access_key_id": AKID, "secret_access_key": SECRET},
            {"arn": f"arn:aws:iam::{ACCT}:root", "access_key_id": "AKIAROOT000000000000", "secret_access_key": "r"},
        ],
    }
)
LOOKUP_EVENTS = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
BODY = json.dumps({"KeyId": "alias/demo", "Plaintext": "aGVsbG8="}).encode()


def signed(
    body: bytes = BODY,
    *,
    key: str = AKID,
    secret: str = SECRET,
    service: str = "kms",
    region: str = "eu-west-1",
    url: str = "http://127.0.0.1:4599/",
    target: str = "TrentService.Encrypt",
) -> tuple[dict[str, str], str]:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": target,
            "User-Agent": "test-agent/1.0",
        },
    )
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    path = url.split("4599", 1)[1]
    headers = dict(request.headers.items())
    headers["Host"] = "127.0.0.1:4599"
    return headers, path


def test_good_signature_resolves_the_caller_and_region() -> None:
    headers, path = signed()
    caller, region = SigV4Resolver(STORE)(headers, "POST", path, BODY, "10.0.0.5")
    assert region == "eu-west-1"
    assert caller.arn == f"arn:aws:iam::{ACCT}:user/alice"
    assert (caller.account, caller.identity_type, caller.access_key_id) == (ACCT, "IAMUser", AKID)
    assert caller.source_ip == "10.0.0.5"
    assert caller.user_agent == "test-agent/1.0"
    assert caller.principal_id.startswith("AIDA")


def test_root_identity_and_cloudtrail_scope() -> None:
    headers, path = signed(key="AKIAROOT000000000000", secret="r", service="cloudtrail", target=LOOKUP_EVENTS)
    caller, _ = SigV4Resolver(STORE)(headers, "POST", path, BODY, "127.0.0.1")
    assert caller.identity_type == "Root"
    assert caller.arn == f"arn:aws:iam::{ACCT}:root"


def test_query_string_and_header_case_are_canonicalized() -> None:
    url = "http://127.0.0.1:4599/some/path?b=2&a=1&a=0&empty="
    headers, path = signed(url=url)
    lowered = {k.lower(): v for k, v in headers.items()}
    caller, _ = SigV4Resolver(STORE)(lowered, "POST", path, BODY, "127.0.0.1")
    assert caller.access_key_id == AKID


def test_tampered_body_is_refused_with_aws_message() -> None:
    headers, path = signed()
    with pytest.raises(InvalidSignatureException) as err:
        SigV4Resolver(STORE)(headers, "POST", path, BODY.replace(b"demo", b"evil"), "127.0.0.1")
    assert err.value.message == (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )


def test_tampered_header_and_method_are_refused() -> None:
    headers, path = signed()
    with pytest.raises(InvalidSignatureException):
        SigV4Resolver(STORE)({**headers, "X-Amz-Target": "TrentService.Decrypt"}, "POST", path, BODY, "127.0.0.1")
    with pytest.raises(InvalidSignatureException):
        SigV4Resolver(STORE)(headers, "PUT", path, BODY, "127.0.0.1")


def test_wrong_secret_is_refused() -> None:
    headers, path = signed(secret="not-the-secret")
    with pytest.raises(InvalidSignatureException, match="does not match"):
        SigV4Resolver(STORE)(headers, "POST", path, BODY, "127.0.0.1")


def test_unknown_access_key() -> None:
    headers, path = signed(key="AKIAUNKNOWN000000000")
    with pytest.raises(UnrecognizedClientException) as err:
        SigV4Resolver(STORE)(headers, "POST", path, BODY, "127.0.0.1")
    assert err.value.message == "The security token included in the request is invalid."
    assert err.value.code == "UnrecognizedClientException"


def test_missing_authorization_header() -> None:
    headers, path = signed()
    del headers["Authorization"]
    with pytest.raises(MissingAuthenticationTokenException) as err:
        SigV4Resolver(STORE)(headers, "POST", path, BODY, "127.0.0.1")
    assert err.value.code == "MissingAuthenticationTokenException"


def test_incomplete_authorization_header() -> None:
    headers, path = signed()
    headers["Authorization"] = headers["Authorization"].split(", Signature=")[0]
    with pytest.raises(IncompleteSignatureException, match="requires 'Signature' parameter"):
        SigV4Resolver(STORE)(headers, "POST", path, BODY, "127.0.0.1")


def test_wrong_service_in_scope() -> None:
    headers, path = signed(service="s3")
    with pytest.raises(InvalidSignatureException, match="correct service"):
        SigV4Resolver(STORE)(headers, "POST", path, BODY, "127.0.0.1")


def test_expired_and_future_dates() -> None:
    headers, path = signed()
    signed_at = datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    late = FixedClock(signed_at + timedelta(minutes=16))
    with pytest.raises(InvalidSignatureException) as err:
        SigV4Resolver(STORE, clock=late)(headers, "POST", path, BODY, "127.0.0.1")
    now = late.now()
    assert err.value.message == (
        f"Signature expired: {headers['X-Amz-Date']} is now earlier than "
        f"{(now - timedelta(minutes=15)).strftime('%Y%m%dT%H%M%SZ')} ({now.strftime('%Y%m%dT%H%M%SZ')} - 15 min.)"
    )
    early = FixedClock(signed_at - timedelta(minutes=16))
    with pytest.raises(InvalidSignatureException, match="Signature not yet current"):
        SigV4Resolver(STORE, clock=early)(headers, "POST", path, BODY, "127.0.0.1")
    within = FixedClock(signed_at + timedelta(minutes=14))
    assert SigV4Resolver(STORE, clock=within)(headers, "POST", path, BODY, "127.0.0.1")[0].access_key_id == AKID


def test_resolver_repr_holds_no_secret() -> None:
    assert SECRET not in repr(SigV4Resolver(STORE))
    assert SECRET not in repr(STORE.by_access_key(AKID))


# -- issue 11, items 2 and 3: the signature binds the body, the host, the target and the service --


class _SignOnly(SigV4Auth):
    """botocore's signer, told to sign only some headers (as a careless or hostile client might)."""

    def __init__(self, only: set[str]) -> None:
        super().__init__(Credentials(AKID, SECRET), "kms", "eu-west-1")
        self.only = only

    def headers_to_sign(self, request: AWSRequest) -> Any:
        headers = super().headers_to_sign(request)
        for name in list(headers.keys()):
            if name.lower() not in self.only:
                del headers[name]
        return headers


def _sign_with(headers: dict[str, str], body: bytes, *, only: set[str] | None = None) -> dict[str, str]:
    """Sign a request with these headers (all of them, or only those named in ``only`` and the date)."""
    request = AWSRequest(method="POST", url="http://127.0.0.1:4599/", data=body, headers=headers)
    if only is None:
        SigV4Auth(Credentials(AKID, SECRET), "kms", "eu-west-1").add_auth(request)
    else:
        _SignOnly({*only, "x-amz-date"}).add_auth(request)
    signed_headers = dict(request.headers.items())
    signed_headers.setdefault("Host", "127.0.0.1:4599")  # botocore signs the URL's host without adding it
    return signed_headers


def test_cloudtrail_scoped_signature_is_refused_for_a_kms_call() -> None:
    headers, path = signed(service="cloudtrail")  # target TrentService.Encrypt
    with pytest.raises(InvalidSignatureException, match="correct service: 'kms'"):
        SigV4Resolver(STORE)(headers, "POST", path, BODY, "127.0.0.1")


def test_kms_scoped_signature_is_refused_for_cloudtrail_lookup_events() -> None:
    headers, path = signed(service="kms", target=LOOKUP_EVENTS)
    with pytest.raises(InvalidSignatureException, match="correct service: 'cloudtrail'"):
        SigV4Resolver(STORE)(headers, "POST", path, BODY, "127.0.0.1")


def test_payload_hash_header_must_match_the_received_body() -> None:
    headers, path = signed()
    tampered = BODY.replace(b"alias/demo", b"alias/victim")
    # The attack: keep every signed header, send another body, and claim the original body's hash.
    headers["X-Amz-Content-Sha256"] = hashlib.sha256(BODY).hexdigest()
    with pytest.raises(InvalidSignatureException):
        SigV4Resolver(STORE)(headers, "POST", path, tampered, "127.0.0.1")
    headers["X-Amz-Content-Sha256"] = "UNSIGNED-PAYLOAD"
    with pytest.raises(InvalidSignatureException, match="x-amz-content-sha256"):
        SigV4Resolver(STORE)(headers, "POST", path, tampered, "127.0.0.1")


def test_signed_payload_hash_header_is_accepted_when_it_matches() -> None:
    base = {"Host": "127.0.0.1:4599", "X-Amz-Target": "TrentService.Encrypt"}
    base["X-Amz-Content-Sha256"] = hashlib.sha256(BODY).hexdigest()
    headers = _sign_with(base, BODY)
    assert "x-amz-content-sha256" in headers["Authorization"]
    caller, _ = SigV4Resolver(STORE)(headers, "POST", "/", BODY, "127.0.0.1")
    assert caller.access_key_id == AKID


def test_signed_unsigned_payload_is_refused_for_json() -> None:
    base = {
        "Host": "127.0.0.1:4599",
        "X-Amz-Target": "TrentService.Encrypt",
        "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD",
    }
    headers = _sign_with(base, BODY)
    with pytest.raises(InvalidSignatureException, match="UNSIGNED-PAYLOAD"):
        SigV4Resolver(STORE)(headers, "POST", "/", BODY, "127.0.0.1")


def test_host_must_be_signed() -> None:
    headers = _sign_with({"X-Amz-Target": "TrentService.DescribeKey"}, BODY, only={"x-amz-target"})
    assert "SignedHeaders=x-amz-date;x-amz-target," in headers["Authorization"]
    with pytest.raises(InvalidSignatureException, match="'Host' must be a 'SignedHeader'"):
        SigV4Resolver(STORE)(headers, "POST", "/", BODY, "127.0.0.1")


def test_unsigned_target_cannot_be_swapped() -> None:
    # Signed over host and x-amz-date only; the target rides along unsigned and is swapped.
    headers = _sign_with({"X-Amz-Target": "TrentService.DescribeKey"}, BODY, only={"host"})
    assert "SignedHeaders=host;x-amz-date," in headers["Authorization"]
    headers["X-Amz-Target"] = "TrentService.DisableKey"
    with pytest.raises(InvalidSignatureException, match="x-amz-target"):
        SigV4Resolver(STORE)(headers, "POST", "/", BODY, "127.0.0.1")


def test_date_header_instead_of_x_amz_date_must_be_signed() -> None:
    headers, path = signed()
    amz_date = headers.pop("X-Amz-Date")
    when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    headers["Date"] = when.strftime("%a, %d %b %Y %H:%M:%S GMT")  # present, but not in SignedHeaders
    with pytest.raises(InvalidSignatureException, match="'date' header must be signed"):
        SigV4Resolver(STORE)(headers, "POST", path, BODY, "127.0.0.1")
