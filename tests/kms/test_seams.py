"""The engine's seams: event sinks (one ApiCall per call, failures included) and the authorizer."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.kms import ApiCall, AuthorizationRequest, Caller, LocalKms
from kmslab.kms.errors import AccessDeniedException, UnknownOperationException
from tests.kms.conftest import START
from tests.kms.helpers import ACCOUNT, error_of, key_arn


@pytest.fixture
def events(kms_engine: LocalKms) -> list[ApiCall]:
    seen: list[ApiCall] = []
    kms_engine.add_sink(seen.append)
    return seen


def test_one_event_per_call_with_failures(kms: Any, events: list[ApiCall]) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"a": "b"})["CiphertextBlob"]
    kms.disable_key(KeyId=key_id)
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})
    with pytest.raises(ClientError):
        kms.describe_key(KeyId="alias/missing")
    assert [e.operation for e in events] == ["CreateKey", "Encrypt", "DisableKey", "Decrypt", "DescribeKey"]
    create, encrypt, disable, decrypt, describe = events
    assert create.key_arns == (key_arn(key_id),) and create.error_code is None
    assert encrypt.request["EncryptionContext"] == {"a": "b"}
    assert encrypt.response is not None and encrypt.response["KeyId"] == key_arn(key_id)
    assert decrypt.error_code == "DisabledException" and decrypt.error_message == f"{key_arn(key_id)} is disabled."
    assert decrypt.response is None and decrypt.key_arns == (key_arn(key_id),)
    assert describe.error_code == "NotFoundException" and describe.key_arns == ()
    assert all(e.event_time == START and e.region == "us-east-1" and e.account == ACCOUNT for e in events)
    assert len({e.request_id for e in events}) == 5
    assert events[0].caller.arn == f"arn:aws:iam::{ACCOUNT}:root"
    assert events[0].caller.access_key_id  # from the SigV4 Authorization header


def test_validation_failures_are_events_too(kms_engine: LocalKms, events: list[ApiCall]) -> None:
    with pytest.raises(Exception) as exc:
        kms_engine.call("Encrypt", {"KeyId": "k"})
    assert getattr(exc.value, "code", None) == "ValidationException"
    assert [(e.operation, e.error_code) for e in events] == [("Encrypt", "ValidationException")]
    with pytest.raises(UnknownOperationException):
        kms_engine.call("Nope", {})
    assert len(events) == 1  # unknown operations are not KMS calls


def test_a_failing_sink_does_not_break_the_call(kms_engine: LocalKms, kms: Any, events: list[ApiCall]) -> None:
    def broken(call: ApiCall) -> None:
        raise RuntimeError("sink bug")

    kms_engine.add_sink(broken)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id
    assert len(events) == 2
    kms_engine.remove_sink(broken)
    kms_engine.remove_sink(events.append)
    kms.list_keys()
    assert len(events) == 2


def test_call_uses_wire_shapes(kms_engine: LocalKms) -> None:
    key_id = kms_engine.call("CreateKey", {})["KeyMetadata"]["KeyId"]
    out = kms_engine.call("Encrypt", {"KeyId": key_id, "Plaintext": base64.b64encode(b"wire").decode()})
    assert isinstance(out["CiphertextBlob"], str)
    back = kms_engine.call("Decrypt", {"CiphertextBlob": out["CiphertextBlob"]})
    assert base64.b64decode(back["Plaintext"]) == b"wire"
    meta = kms_engine.call("DescribeKey", {"KeyId": key_id})["KeyMetadata"]
    assert meta["CreationDate"] == START.timestamp()


class Recorder:
    def __init__(self, deny: str | None = None) -> None:
        self.requests: list[AuthorizationRequest] = []
        self.deny = deny

    def authorize(self, request: AuthorizationRequest) -> None:
        self.requests.append(request)
        if request.action == self.deny:
            raise AccessDeniedException(f"User is not authorized to perform: {request.action}")


def test_every_operation_asks_the_authorizer_with_facts(kms_engine: LocalKms, kms: Any) -> None:
    recorder = Recorder()
    kms_engine.authorizer = recorder
    key_id = kms.create_key(KeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/facts", TargetKeyId=key_id)
    kms.encrypt(KeyId="alias/facts", Plaintext=b"x", EncryptionContext={"dept": "hr"})
    create, alias, encrypt = recorder.requests
    assert (create.action, create.key_arn, create.key_policy) == ("kms:CreateKey", None, None)
    assert create.context["kms:KeySpec"] == "SYMMETRIC_DEFAULT"
    assert alias.action == "kms:CreateAlias" and alias.key_arn == key_arn(key_id)
    assert encrypt.action == "kms:Encrypt" and encrypt.key_arn == key_arn(key_id)
    assert encrypt.key_policy == kms.get_key_policy(KeyId=key_id)["Policy"]
    assert encrypt.context["kms:EncryptionContext:dept"] == "hr"
    assert encrypt.context["kms:EncryptionContextKeys"] == ["dept"]
    assert encrypt.context["kms:RequestAlias"] == "alias/facts"
    assert encrypt.context["kms:ResourceAliases"] == ["alias/facts"]
    assert encrypt.context["kms:EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert (encrypt.context["kms:KeyUsage"], encrypt.context["kms:KeyOrigin"]) == ("ENCRYPT_DECRYPT", "AWS_KMS")
    assert encrypt.context["kms:MultiRegion"] is False


def test_re_encrypt_asks_for_both_sides(kms_engine: LocalKms, kms: Any) -> None:
    source = kms.create_key()["KeyMetadata"]["KeyId"]
    dest = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=source, Plaintext=b"x")["CiphertextBlob"]
    recorder = Recorder()
    kms_engine.authorizer = recorder
    kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=dest)
    assert [(r.action, r.key_arn) for r in recorder.requests] == [
        ("kms:ReEncryptFrom", key_arn(source)),
        ("kms:ReEncryptTo", key_arn(dest)),
    ]


def test_denial_stops_the_action(kms_engine: LocalKms, kms: Any, events: list[ApiCall]) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms_engine.authorizer = Recorder(deny="kms:DisableKey")
    with pytest.raises(ClientError) as exc:
        kms.disable_key(KeyId=key_id)
    assert error_of(exc)[0] == "AccessDeniedException"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert events[-2].error_code == "AccessDeniedException" and events[-2].key_arns == (key_arn(key_id),)


def test_caller_is_passed_through(kms_engine: LocalKms, events: list[ApiCall]) -> None:
    alice = Caller(arn=f"arn:aws:iam::{ACCOUNT}:user/alice", account=ACCOUNT, identity_type="IAMUser")
    kms_engine.boto3_client(caller=alice).list_keys()
    assert events[-1].caller == alice
