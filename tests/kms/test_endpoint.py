"""The local KMS endpoint through boto3 over real HTTP: operations, AWS error shapes, regions, persistence."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kmslab.kms import LocalKms
from kmslab.kms.control import ControlClient
from kmslab.kms.seams import ApiCall
from kmslab.kms.server import KmsServer

ACCOUNT = "111122223333"


def kms_client(url: str, region: str = "us-east-1") -> Any:
    return boto3.client("kms", endpoint_url=url, region_name=region, config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KmsServer]:
    with KmsServer(LocalKms(tmp_path / "kms"), port=0) as srv:
        yield srv


@pytest.fixture
def kms(server: KmsServer) -> Any:
    return kms_client(server.url)


def refusal(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_round_trip_of_the_main_operations(kms: Any) -> None:
    meta = kms.create_key(Description="round trip", Tags=[{"TagKey": "team", "TagValue": "lab"}])["KeyMetadata"]
    key_id, arn = meta["KeyId"], meta["Arn"]
    assert arn == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}"
    assert (meta["KeyState"], meta["KeySpec"], meta["KeyUsage"]) == ("Enabled", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["Description"] == "round trip"
    assert key_id in [k["KeyId"] for k in kms.list_keys()["Keys"]]
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "lab"}]

    kms.create_alias(AliasName="alias/round-trip", TargetKeyId=key_id)
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/round-trip"] == key_id

    context = {"purpose": "test"}
    encrypted = kms.encrypt(KeyId="alias/round-trip", Plaintext=b"secret", EncryptionContext=context)
    assert encrypted["KeyId"] == arn
    assert b"secret" not in encrypted["CiphertextBlob"]
    decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext=context)
    assert (decrypted["Plaintext"], decrypted["KeyId"]) == (b"secret", arn)

    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert len(data_key["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    bare = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=16)
    assert "Plaintext" not in bare
    assert len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 16

    kms.disable_key(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=key_id)
    kms.enable_key_rotation(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_not_found_error_shape(kms: Any) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=missing)
    status, code, message = refusal(exc)
    assert (status, code) == (400, "NotFoundException")
    assert message == f"Key 'arn:aws:kms:us-east-1:{ACCOUNT}:key/{missing}' does not exist"


def test_disabled_key_error_shape(kms: Any) -> None:
    meta = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=meta["KeyId"])
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")
    status, code, message = refusal(exc)
    assert (status, code) == (400, "DisabledException")
    assert message == f"{meta['Arn']} is disabled."


def test_pending_deletion_error_shape(kms: Any) -> None:
    meta = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    scheduled = kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    status, code, message = refusal(exc)
    assert (status, code) == (400, "KMSInvalidStateException")
    assert message == f"{meta['Arn']} is pending deletion."


def test_request_id_header_matches_response_metadata(server: KmsServer, kms: Any) -> None:
    answer = kms.list_keys()
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert uuid.UUID(request_id)
    assert answer["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"


def test_one_endpoint_serves_several_regions(server: KmsServer) -> None:
    east, west = kms_client(server.url, "us-east-1"), kms_client(server.url, "eu-west-1")
    east_key = east.create_key()["KeyMetadata"]
    west_key = west.create_key()["KeyMetadata"]
    assert west_key["Arn"].startswith("arn:aws:kms:eu-west-1:")
    assert [k["KeyId"] for k in east.list_keys()["Keys"]] == [east_key["KeyId"]]
    assert [k["KeyId"] for k in west.list_keys()["Keys"]] == [west_key["KeyId"]]
    with pytest.raises(ClientError) as exc:
        west.describe_key(KeyId=east_key["KeyId"])
    assert refusal(exc)[1] == "NotFoundException"


def test_replica_key_decrypts_in_its_region(server: KmsServer) -> None:
    east, west = kms_client(server.url, "us-east-1"), kms_client(server.url, "eu-west-1")
    primary = east.create_key(MultiRegion=True)["KeyMetadata"]
    assert primary["KeyId"].startswith("mrk-")
    replica = east.replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1")["ReplicaKeyMetadata"]
    assert replica["Arn"] == primary["Arn"].replace("us-east-1", "eu-west-1")
    blob = east.encrypt(KeyId=primary["KeyId"], Plaintext=b"cross-region")["CiphertextBlob"]
    answer = west.decrypt(CiphertextBlob=blob, KeyId=replica["Arn"])
    assert answer["Plaintext"] == b"cross-region"
    assert answer["KeyId"] == replica["Arn"]


def test_keys_persist_across_a_server_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "kms"
    with KmsServer(LocalKms(data_dir), port=0) as first:
        client = kms_client(first.url)
        key_id = client.create_key()["KeyMetadata"]["KeyId"]
        client.create_alias(AliasName="alias/kept", TargetKeyId=key_id)
        blob = client.encrypt(KeyId="alias/kept", Plaintext=b"survives")["CiphertextBlob"]
    with KmsServer(LocalKms(data_dir), port=0) as second:
        client = kms_client(second.url)
        assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"survives"
        assert client.describe_key(KeyId="alias/kept")["KeyMetadata"]["KeyId"] == key_id


def test_concurrent_clients_get_consistent_answers(server: KmsServer) -> None:
    errors: list[BaseException] = []
    made: dict[int, str] = {}

    def worker(number: int) -> None:
        try:
            client = kms_client(server.url)
            key_id = client.create_key(Description=f"worker {number}")["KeyMetadata"]["KeyId"]
            made[number] = key_id
            for round_number in range(15):
                plaintext = f"{number}:{round_number}".encode()
                blob = client.encrypt(KeyId=key_id, Plaintext=plaintext)["CiphertextBlob"]
                answer = client.decrypt(CiphertextBlob=blob)
                assert answer["Plaintext"] == plaintext
                assert answer["KeyId"].endswith(key_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    listed = {k["KeyId"] for k in kms_client(server.url).list_keys()["Keys"]}
    assert listed == set(made.values()) and len(listed) == 8


def test_advancing_the_clock_completes_a_pending_deletion(server: KmsServer, kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    scheduled = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    control = ControlClient(server.url)
    control.advance(timedelta(days=6))
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    now = control.advance(timedelta(days=2))
    assert now > scheduled["DeletionDate"]
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=key_id)
    assert refusal(exc)[:2] == (400, "NotFoundException")


def test_sinks_see_who_called_from_where(tmp_path: Path) -> None:
    calls: list[ApiCall] = []
    kms = LocalKms(tmp_path / "kms")
    kms.add_sink(calls.append)
    with KmsServer(kms, port=0) as srv:
        client = boto3.client(
            "kms",
            endpoint_url=srv.url,
            region_name="eu-west-2",
            aws_access_key_id="AKIAKMSLABTESTKEY001",
            aws_secret_access_key="secret",
        )
        answer = client.create_key(Description="traced")
    (call,) = calls
    assert (call.operation, call.region, call.request_id) == (
        "CreateKey",
        "eu-west-2",
        answer["ResponseMetadata"]["RequestId"],
    )
    assert call.caller.arn == f"arn:aws:iam::{ACCOUNT}:root"
    assert call.caller.access_key_id == "AKIAKMSLABTESTKEY001"
    assert call.caller.source_ip == "127.0.0.1"
    assert call.caller.user_agent.startswith("Boto3/")
    assert call.key_arns == (answer["KeyMetadata"]["Arn"],)
