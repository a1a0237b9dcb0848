"""Imported key material as of 2025: material IDs, NEW/EXISTING imports, on-demand rotation, asymmetric imports."""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from kmslab.kms import LocalKms
from tests.kms.helpers import covers, error_of, import_material


def _external(kms: Any, **extra: Any) -> str:
    return str(kms.create_key(Origin="EXTERNAL", **extra)["KeyMetadata"]["KeyId"])


def _rotations(kms: Any, key_id: str) -> list[dict[str, Any]]:
    return list(kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"])


def _pkcs8(private: Any) -> bytes:
    out: bytes = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return out


def test_new_material_waits_for_an_on_demand_rotation_and_old_ciphertexts_keep_decrypting(kms: Any) -> None:
    key_id = _external(kms)
    first = import_material(kms, key_id, KeyMaterialDescription="first")
    first_id = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    old_blob = kms.encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL", KeyMaterialDescription="second")
    rows = _rotations(kms, key_id)
    assert [(r["KeyMaterialState"], r["KeyMaterialDescription"], r["ImportState"]) for r in rows] == [
        ("CURRENT", "first", "IMPORTED"),
        ("PENDING_ROTATION", "second", "IMPORTED"),
    ]
    assert "RotationDate" not in rows[1]
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []  # ROTATIONS_ONLY: nothing rotated yet
    # Still encrypting under the first material until the rotation.
    assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"])["KeyMaterialId"] == (
        first_id
    )
    kms.rotate_key_on_demand(KeyId=key_id)
    second_id = rows[1]["KeyMaterialId"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == second_id
    rotated = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [(r["KeyMaterialId"], r["RotationType"], r["KeyMaterialState"]) for r in rotated] == [
        (second_id, "ON_DEMAND", "CURRENT")
    ]
    back = kms.decrypt(CiphertextBlob=old_blob)
    assert back["Plaintext"] == b"old" and back["KeyMaterialId"] == first_id
    new_blob = kms.encrypt(KeyId=key_id, Plaintext=b"new")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=new_blob)["KeyMaterialId"] == second_id
    assert first  # the first material is still the caller's to reimport


def test_material_ids_are_derived_from_the_material(kms: Any) -> None:
    key_id = _external(kms)
    material = import_material(kms, key_id)
    material_id = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=material_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    import_material(kms, key_id, material, ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=material_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


@covers("ImportKeyMaterial", aspect="errors")
def test_import_type_and_material_id_errors(kms: Any) -> None:
    key_id = _external(kms)
    material = import_material(kms, key_id)
    with pytest.raises(ClientError) as exc:
        import_material(kms, key_id, material, ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId="ab" * 32)
    assert error_of(exc)[0] == "IncorrectKeyMaterialException"
    with pytest.raises(ClientError) as exc:
        import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL", KeyMaterialId="ab" * 32)
    assert error_of(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        import_material(kms, key_id, material, ImportType="NEW_KEY_MATERIAL")
    assert error_of(exc)[0] == "IncorrectKeyMaterialException"
    with pytest.raises(ClientError) as exc:
        import_material(kms, key_id, os.urandom(32))  # omitted ImportType means EXISTING after the first import
    assert error_of(exc)[0] == "IncorrectKeyMaterialException"


@covers("RotateKeyOnDemand", "DeleteImportedKeyMaterial", aspect="errors")
def test_rotation_needs_pending_material_and_pending_material_can_be_deleted(kms: Any) -> None:
    key_id = _external(kms)
    import_material(kms, key_id)
    with pytest.raises(ClientError) as exc:
        kms.rotate_key_on_demand(KeyId=key_id)
    assert error_of(exc)[0] == "KMSInvalidStateException"
    import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    pending = _rotations(kms, key_id)[1]["KeyMaterialId"]
    out = kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=pending)
    assert out["KeyMaterialId"] == pending
    assert [r["KeyMaterialState"] for r in _rotations(kms, key_id)] == ["CURRENT"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    with pytest.raises(ClientError) as exc:
        kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId="cd" * 32)
    assert error_of(exc)[0] == "NotFoundException"


def test_deleting_old_material_makes_the_key_pending_import_until_it_returns(kms: Any) -> None:
    key_id = _external(kms)
    first = import_material(kms, key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    kms.rotate_key_on_demand(KeyId=key_id)
    first_id = _rotations(kms, key_id)[0]["KeyMaterialId"]
    kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=first_id)
    rows = _rotations(kms, key_id)
    assert [(r["KeyMaterialState"], r["ImportState"]) for r in rows] == [
        ("NON_CURRENT", "PENDING_IMPORT"),
        ("CURRENT", "IMPORTED"),
    ]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    import_material(kms, key_id, first, KeyMaterialId=first_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"old"


@pytest.mark.parametrize("algorithm", ["RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"])
def test_imported_rsa_signing_key(kms: Any, algorithm: str) -> None:
    key_id = _external(kms, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    import_material(kms, key_id, _pkcs8(private), algorithm=algorithm)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == public_der
    signature = kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    private.public_key().verify(
        signature, b"m", padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
    )


def test_imported_key_agreement_key_derives_what_the_owner_derives(kms: Any) -> None:
    key_id = _external(kms, KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")
    mine, peer = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
    import_material(kms, key_id, _pkcs8(mine), algorithm="RSA_AES_KEY_WRAP_SHA_256")
    peer_der = peer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    out = kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer_der)
    assert out["SharedSecret"] == mine.exchange(ec.ECDH(), peer.public_key()) and out["KeyOrigin"] == "EXTERNAL"


@covers("ImportKeyMaterial", "CreateKey", aspect="errors")
def test_asymmetric_import_errors(kms: Any) -> None:
    key_id = _external(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    wrong_curve = _pkcs8(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(ClientError) as exc:
        import_material(kms, key_id, wrong_curve, algorithm="RSA_AES_KEY_WRAP_SHA_256")
    assert error_of(exc)[0] == "ValidationException"
    import_material(kms, key_id, _pkcs8(ec.generate_private_key(ec.SECP256R1())), algorithm="RSA_AES_KEY_WRAP_SHA_256")
    with pytest.raises(ClientError) as exc:
        import_material(
            kms,
            key_id,
            _pkcs8(ec.generate_private_key(ec.SECP256R1())),
            algorithm="RSA_AES_KEY_WRAP_SHA_256",
            ImportType="NEW_KEY_MATERIAL",
        )
    assert error_of(exc)[0] == "UnsupportedOperationException"
    for spec, usage in (("ML_DSA_65", "SIGN_VERIFY"), ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY")):
        with pytest.raises(ClientError) as exc:
            kms.create_key(KeySpec=spec, KeyUsage=usage, Origin="EXTERNAL")
        assert error_of(exc)[0] == "UnsupportedOperationException"
    with pytest.raises(ClientError) as exc:
        kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="SM2PKE", WrappingKeySpec="SM2")
    assert error_of(exc)[0] == "UnsupportedOperationException" and "SM2" in error_of(exc)[1]


def test_multi_region_rotation_waits_for_every_replica(kms_engine: LocalKms, kms: Any) -> None:
    key_id = str(kms.create_key(Origin="EXTERNAL", MultiRegion=True)["KeyMetadata"]["KeyId"])
    first = import_material(kms, key_id)
    kms.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1")
    west = kms_engine.boto3_client(region="eu-west-1")
    import_material(west, key_id, first)
    second = import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    assert _rotations(kms, key_id)[1]["KeyMaterialState"] == "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"
    with pytest.raises(ClientError) as exc:
        kms.rotate_key_on_demand(KeyId=key_id)
    assert error_of(exc)[0] == "KMSInvalidStateException"
    with pytest.raises(ClientError) as exc:
        import_material(west, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    assert error_of(exc)[0] == "UnsupportedOperationException"
    import_material(west, key_id, second, ImportType="EXISTING_KEY_MATERIAL")
    assert _rotations(kms, key_id)[1]["KeyMaterialState"] == "PENDING_ROTATION"
    kms.rotate_key_on_demand(KeyId=key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"everywhere")["CiphertextBlob"]
    back = west.decrypt(CiphertextBlob=blob)
    assert back["Plaintext"] == b"everywhere"
    assert back["KeyMaterialId"] == _rotations(kms, key_id)[1]["KeyMaterialId"]


def test_pending_material_and_descriptions_survive_a_restart(tmp_path: Any) -> None:
    from kmslab.kms import FixedClock
    from tests.kms.conftest import START

    engine = LocalKms(tmp_path / "kms", clock=FixedClock(START))
    kms = engine.boto3_client()
    key_id = _external(kms)
    import_material(kms, key_id, KeyMaterialDescription="first")
    import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL", KeyMaterialDescription="next")
    before = _rotations(kms, key_id)
    engine.close()
    again = LocalKms(tmp_path / "kms", clock=FixedClock(START))
    try:
        after = _rotations(again.boto3_client(), key_id)
        again.boto3_client().rotate_key_on_demand(KeyId=key_id)
    finally:
        again.close()
    assert after == before
    assert [r["KeyMaterialState"] for r in after] == ["CURRENT", "PENDING_ROTATION"]
