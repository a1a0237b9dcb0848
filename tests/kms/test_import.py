"""Imported key material: wrap with RSA-OAEP, tokens, expiry, deletion, re-import of the same or other material."""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from tests.kms.conftest import START
from tests.kms.helpers import covers, error_of, import_material, key_arn, wrap_material


@pytest.fixture
def external(kms: Any) -> str:
    return str(kms.create_key(Origin="EXTERNAL", Description="byok")["KeyMetadata"]["KeyId"])


def test_external_key_starts_pending_import(kms: Any, external: str) -> None:
    meta = kms.describe_key(KeyId=external)["KeyMetadata"]
    assert (meta["Origin"], meta["KeyState"], meta["Enabled"]) == ("EXTERNAL", "PendingImport", False)
    assert "CurrentKeyMaterialId" not in meta


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
def test_import_then_use(kms: Any, external: str, algorithm: str) -> None:
    params = kms.get_parameters_for_import(KeyId=external, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048")
    assert params["KeyId"] == key_arn(external)
    assert params["ParametersValidTo"] == START + timedelta(hours=24)
    public = serialization.load_der_public_key(params["PublicKey"])
    assert public.key_size == 2048  # type: ignore[union-attr]
    material = os.urandom(32)
    out = kms.import_key_material(
        KeyId=external,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap_material(params["PublicKey"], material, algorithm),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert out["KeyId"] == key_arn(external) and len(out["KeyMaterialId"]) == 64
    meta = kms.describe_key(KeyId=external)["KeyMetadata"]
    assert (meta["KeyState"], meta["ExpirationModel"]) == ("Enabled", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert "ValidTo" not in meta
    blob = kms.encrypt(KeyId=external, Plaintext=b"imported")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"


def test_rsa_aes_key_wrap(kms: Any, external: str) -> None:
    params = kms.get_parameters_for_import(
        KeyId=external, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    public = serialization.load_der_public_key(params["PublicKey"])
    aes_key, material = os.urandom(32), os.urandom(32)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    wrapped = public.encrypt(aes_key, oaep) + keywrap.aes_key_wrap_with_padding(aes_key, material)  # type: ignore[union-attr]
    kms.import_key_material(
        KeyId=external,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrapped,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert kms.describe_key(KeyId=external)["KeyMetadata"]["KeyState"] == "Enabled"


def test_material_expiry_returns_the_key_to_pending_import(kms_engine: Any, kms: Any, external: str) -> None:
    material = import_material(
        kms, external, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=START + timedelta(days=10)
    )
    meta = kms.describe_key(KeyId=external)["KeyMetadata"]
    assert (meta["ExpirationModel"], meta["ValidTo"]) == ("KEY_MATERIAL_EXPIRES", START + timedelta(days=10))
    blob = kms.encrypt(KeyId=external, Plaintext=b"short-lived")["CiphertextBlob"]
    kms_engine.advance_time(timedelta(days=10, seconds=1))
    assert kms.describe_key(KeyId=external)["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    assert error_of(exc) == ("KMSInvalidStateException", f"{key_arn(external)} is pending import.")
    import_material(kms, external, material)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"short-lived"


@pytest.mark.parametrize(
    "extra",
    [
        {"ExpirationModel": "KEY_MATERIAL_EXPIRES"},  # no ValidTo
        {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "ValidTo": START + timedelta(days=1)},
        {"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": START - timedelta(days=1)},
        {"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": START + timedelta(days=366)},
    ],
    ids=["expires-without-validto", "validto-without-expiry", "validto-in-past", "validto-too-far"],
)
def test_expiration_parameters_are_validated(kms: Any, external: str, extra: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as exc:
        import_material(kms, external, **extra)
    assert error_of(exc)[0] == "ValidationException"
    assert kms.describe_key(KeyId=external)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_delete_and_reimport_same_or_different_material(kms: Any, external: str) -> None:
    material = import_material(kms, external)
    blob = kms.encrypt(KeyId=external, Plaintext=b"keep me")["CiphertextBlob"]
    first_id = kms.describe_key(KeyId=external)["KeyMetadata"]["CurrentKeyMaterialId"]
    out = kms.delete_imported_key_material(KeyId=external)
    assert out["KeyId"] == key_arn(external) and out["KeyMaterialId"] == first_id
    assert kms.describe_key(KeyId=external)["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(ClientError) as exc:
        import_material(kms, external, os.urandom(32))
    assert error_of(exc)[0] == "IncorrectKeyMaterialException"
    assert kms.describe_key(KeyId=external)["KeyMetadata"]["KeyState"] == "PendingImport"
    import_material(kms, external, material)
    meta = kms.describe_key(KeyId=external)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["CurrentKeyMaterialId"] == first_id
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"keep me"


@covers("ImportKeyMaterial", aspect="errors")
def test_bad_and_foreign_tokens(kms: Any, external: str) -> None:
    other = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    params = kms.get_parameters_for_import(
        KeyId=other, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    wrapped = wrap_material(params["PublicKey"], os.urandom(32))
    with pytest.raises(ClientError) as exc:  # a token issued for another key
        kms.import_key_material(
            KeyId=external,
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=wrapped,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert error_of(exc)[0] == "InvalidImportTokenException"
    forged = bytearray(params["ImportToken"])
    forged[20] ^= 1
    with pytest.raises(ClientError) as exc:
        kms.import_key_material(
            KeyId=other,
            ImportToken=bytes(forged),
            EncryptedKeyMaterial=wrapped,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert error_of(exc)[0] == "InvalidImportTokenException"
    with pytest.raises(ClientError) as exc:  # material wrapped under some other public key
        kms.import_key_material(
            KeyId=other,
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=os.urandom(256),
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert error_of(exc)[0] == "InvalidCiphertextException"


def test_expired_import_token(kms_engine: Any, kms: Any, external: str) -> None:
    params = kms.get_parameters_for_import(
        KeyId=external, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    kms_engine.advance_time(timedelta(hours=24, seconds=1))
    with pytest.raises(ClientError) as exc:
        kms.import_key_material(
            KeyId=external,
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=wrap_material(params["PublicKey"], os.urandom(32)),
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert error_of(exc)[0] == "ExpiredImportTokenException"


def test_wrong_length_material_is_refused(kms: Any, external: str) -> None:
    with pytest.raises(ClientError) as exc:
        import_material(kms, external, os.urandom(16))
    assert error_of(exc)[0] == "ValidationException"


@covers("GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial", aspect="errors")
def test_import_operations_refuse_aws_kms_keys(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    assert error_of(exc) == (
        "UnsupportedOperationException",
        f"{key_arn(key_id)} origin is AWS_KMS which is not valid for this operation.",
    )
    with pytest.raises(ClientError) as exc:
        kms.delete_imported_key_material(KeyId=key_id)
    assert error_of(exc)[0] == "UnsupportedOperationException"


@covers("GetParametersForImport", aspect="errors")
def test_unsupported_wrapping_algorithm(kms: Any, external: str) -> None:
    with pytest.raises(ClientError) as exc:
        kms.get_parameters_for_import(KeyId=external, WrappingAlgorithm="RSAES_PKCS1_V1_5", WrappingKeySpec="RSA_2048")
    assert error_of(exc)[0] == "ValidationException"


def test_imported_hmac_key(kms: Any) -> None:
    key_id = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC", Origin="EXTERNAL")["KeyMetadata"][
        "KeyId"
    ]
    material = os.urandom(32)
    import_material(kms, key_id, material)
    import hmac as _hmac

    mac = kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mac == _hmac.new(material, b"m", "sha256").digest()
    assert base64.b64encode(mac)
