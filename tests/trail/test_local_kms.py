"""The recorder on the real local KMS (through a boto3 client): every call recorded, no secret ever written."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

from kmslab.kms import Caller, LocalKms
from kmslab.trail.recorder import TrailRecorder

pytestmark = pytest.mark.functional

ALICE = Caller(
    arn="arn:aws:iam::111122223333:user/alice",
    account="111122223333",
    identity_type="IAMUser",
    principal_id="AIDAALICE",
    access_key_id="AKIAALICE",
)


def _read(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rb") as handle:
        records: list[dict[str, Any]] = json.load(handle)["Records"]
    return records


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_local_kms_calls_become_records_without_secrets(tmp_path: Path) -> None:
    kms = LocalKms()
    recorder = TrailRecorder(tmp_path, account=kms.account, background=False)
    kms.add_sink(recorder)
    client = kms.boto3_client(caller=ALICE)
    secrets: list[bytes] = []

    key = client.create_key(Description="records")["KeyMetadata"]
    plaintext = b"very secret plaintext value"
    encrypted = client.encrypt(KeyId=key["KeyId"], Plaintext=plaintext, EncryptionContext={"app": "lab"})
    decrypted = client.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext={"app": "lab"})
    data_key = client.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")
    random = client.generate_random(NumberOfBytes=32)
    re_encrypted = client.re_encrypt(
        CiphertextBlob=encrypted["CiphertextBlob"],
        SourceEncryptionContext={"app": "lab"},
        DestinationKeyId=key["KeyId"],
    )
    grant = client.create_grant(KeyId=key["KeyId"], GranteePrincipal=ALICE.arn, Operations=["Decrypt"])
    secrets += [
        plaintext,
        encrypted["CiphertextBlob"],
        decrypted["Plaintext"],
        data_key["Plaintext"],
        data_key["CiphertextBlob"],
        random["Plaintext"],
        re_encrypted["CiphertextBlob"],
        grant["GrantToken"].encode(),
    ]

    external = client.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    params = client.get_parameters_for_import(
        KeyId=external, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    material = bytes(range(32))
    wrapping_key: Any = load_der_public_key(params["PublicKey"])
    wrapped = wrapping_key.encrypt(
        material, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    )
    client.import_key_material(
        KeyId=external,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrapped,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    secrets += [material, wrapped, params["ImportToken"]]

    client.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(ClientError) as refused:
        client.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext={"app": "lab"})
    assert refused.value.response["Error"]["Code"] == "KMSInvalidStateException"
    recorder.close()

    records = [r for path in sorted(tmp_path.rglob("*.json.gz")) for r in _read(path)]
    assert [r["eventName"] for r in records] == [
        "CreateKey",
        "Encrypt",
        "Decrypt",
        "GenerateDataKey",
        "GenerateRandom",
        "ReEncrypt",
        "CreateGrant",
        "CreateKey",
        "GetParametersForImport",
        "ImportKeyMaterial",
        "ScheduleKeyDeletion",
        "Decrypt",
    ]
    text = json.dumps(records)
    for secret in secrets:
        assert _b64(secret) not in text
        assert secret.hex() not in text
    for record in records:
        assert record["userIdentity"]["arn"] == ALICE.arn
        assert record["eventSource"] == "kms.amazonaws.com"
    failed = records[-1]
    assert failed["errorCode"] == "KMSInvalidStateException"
    assert failed["errorMessage"] == f"{key['Arn']} is pending deletion."
    assert failed["resources"] == [{"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": key["Arn"]}]
    assert records[1]["requestParameters"] == {
        "keyId": key["KeyId"],
        "encryptionContext": {"app": "lab"},
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    assert records[0]["responseElements"]["keyMetadata"]["arn"] == key["Arn"]
    kms.close()
