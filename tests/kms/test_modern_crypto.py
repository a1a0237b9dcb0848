"""Key agreement, Ed25519, ML-DSA, ML-KEM and data key pairs through the HTTP endpoint, checked with cryptography."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem

from kmslab.kms._validation import service_model
from tests.kms.helpers import covers, error_of, key_arn

CURVES = {"ECC_NIST_P256": ec.SECP256R1(), "ECC_NIST_P384": ec.SECP384R1(), "ECC_NIST_P521": ec.SECP521R1()}


def _key(kms: Any, spec: str, usage: str) -> str:
    return str(kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"])


def _spki(public: Any) -> bytes:
    out: bytes = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return out


# -- key agreement ----------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", sorted(CURVES))
def test_derive_shared_secret_matches_cryptography(kms: Any, spec: str) -> None:
    key_id = _key(kms, spec, "KEY_AGREEMENT")
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyAgreementAlgorithms"] == ["ECDH"] and "SigningAlgorithms" not in meta
    public = kms.get_public_key(KeyId=key_id)
    assert public["KeyAgreementAlgorithms"] == ["ECDH"] and public["KeyUsage"] == "KEY_AGREEMENT"
    peer = ec.generate_private_key(CURVES[spec])
    out = kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=_spki(peer.public_key()))
    kms_public = serialization.load_der_public_key(public["PublicKey"])
    assert isinstance(kms_public, ec.EllipticCurvePublicKey)
    assert out["SharedSecret"] == peer.exchange(ec.ECDH(), kms_public)
    assert out["KeyId"] == key_arn(key_id) and out["KeyOrigin"] == "AWS_KMS" and out["KeyAgreementAlgorithm"] == "ECDH"


@covers("DeriveSharedSecret", aspect="errors")
def test_derive_shared_secret_refuses_wrong_curve_wrong_usage_and_garbage(kms: Any) -> None:
    key_id = _key(kms, "ECC_NIST_P256", "KEY_AGREEMENT")
    other_curve = _spki(ec.generate_private_key(ec.SECP384R1()).public_key())
    with pytest.raises(ClientError) as exc:
        kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=other_curve)
    assert error_of(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=b"\x30\x03not-a-key")
    assert error_of(exc)[0] == "ValidationException"
    signing = _key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    peer = _spki(ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(ClientError) as exc:
        kms.derive_shared_secret(KeyId=signing, KeyAgreementAlgorithm="ECDH", PublicKey=peer)
    assert error_of(exc)[0] == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert error_of(exc)[0] == "InvalidKeyUsageException"


@covers("DeriveSharedSecret", "Encapsulate", "Decapsulate", aspect="states")
def test_shared_secret_operations_need_an_enabled_key(kms: Any) -> None:
    agreement = _key(kms, "ECC_NIST_P256", "KEY_AGREEMENT")
    kem = _key(kms, "ML_KEM_768", "ENCAPSULATE_DECAPSULATE")
    blob = kms.encapsulate(KeyId=kem, EncapsulationAlgorithm="ML_KEM")["SharedSecretCiphertextBlob"]
    peer = _spki(ec.generate_private_key(ec.SECP256R1()).public_key())
    for key_id in (agreement, kem):
        kms.disable_key(KeyId=key_id)
    calls = [
        lambda: kms.derive_shared_secret(KeyId=agreement, KeyAgreementAlgorithm="ECDH", PublicKey=peer),
        lambda: kms.encapsulate(KeyId=kem, EncapsulationAlgorithm="ML_KEM"),
        lambda: kms.decapsulate(KeyId=kem, EncapsulationAlgorithm="ML_KEM", SharedSecretCiphertextBlob=blob),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc)[0] == "DisabledException"
    for key_id in (agreement, kem):
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc)[0] == "KMSInvalidStateException"


@covers("CreateKey", aspect="errors")
def test_key_agreement_is_refused_where_aws_refuses_it(kms: Any) -> None:
    for spec in ("ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "RSA_2048", "ML_DSA_65"):
        with pytest.raises(ClientError) as exc:
            kms.create_key(KeySpec=spec, KeyUsage="KEY_AGREEMENT")
        assert error_of(exc)[0] == "ValidationException", spec


@pytest.mark.parametrize("usage", ["KEY_AGREEMENT", "SIGN_VERIFY", "ENCRYPT_DECRYPT"])
def test_sm2_is_refused_by_name(kms: Any, usage: str) -> None:
    with pytest.raises(ClientError) as exc:
        kms.create_key(KeySpec="SM2", KeyUsage=usage)
    code, message = error_of(exc)
    assert code == "UnsupportedOperationException" and "SM2" in message and "not emulated" in message


# -- Ed25519 -----------------------------------------------------------------------------------------


def test_ed25519_signatures_verify_with_cryptography(kms: Any) -> None:
    key_id = _key(kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["SigningAlgorithms"] == ["ED25519_SHA_512", "ED25519_PH_SHA_512"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, ed25519.Ed25519PublicKey)
    signature = kms.sign(KeyId=key_id, Message=b"ship it", SigningAlgorithm="ED25519_SHA_512")["Signature"]
    assert len(signature) == 64
    public.verify(signature, b"ship it")
    assert kms.verify(KeyId=key_id, Message=b"ship it", Signature=signature, SigningAlgorithm="ED25519_SHA_512")[
        "SignatureValid"
    ]
    with pytest.raises(ClientError) as exc:
        kms.verify(KeyId=key_id, Message=b"ship it!", Signature=signature, SigningAlgorithm="ED25519_SHA_512")
    assert error_of(exc)[0] == "KMSInvalidSignatureException"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_ed25519_signature_verifies_with_openssl(kms: Any, tmp_path: Path) -> None:
    key_id = _key(kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    (tmp_path / "pub.der").write_bytes(kms.get_public_key(KeyId=key_id)["PublicKey"])
    (tmp_path / "msg").write_bytes(b"openssl agrees")
    signature = kms.sign(KeyId=key_id, Message=b"openssl agrees", SigningAlgorithm="ED25519_SHA_512")["Signature"]
    (tmp_path / "sig").write_bytes(signature)
    command = ["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-rawin"]
    good = subprocess.run([*command, "-in", "msg", "-sigfile", "sig"], cwd=tmp_path, capture_output=True, check=False)  # noqa: S603
    assert good.returncode == 0, good.stdout + good.stderr
    (tmp_path / "msg").write_bytes(b"openssl disagrees")
    bad = subprocess.run([*command, "-in", "msg", "-sigfile", "sig"], cwd=tmp_path, capture_output=True, check=False)  # noqa: S603
    assert bad.returncode != 0


@covers("Sign", "Verify", aspect="errors")
def test_ed25519_message_types_follow_aws_and_ph_is_refused_by_name(kms: Any) -> None:
    key_id = _key(kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ED25519_SHA_512", MessageType="DIGEST")
    assert error_of(exc)[0] == "ValidationException"
    digest = hashlib.sha512(b"m").digest()
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=key_id, Message=digest, SigningAlgorithm="ED25519_PH_SHA_512", MessageType="RAW")
    assert error_of(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=key_id, Message=digest, SigningAlgorithm="ED25519_PH_SHA_512", MessageType="DIGEST")
    code, message = error_of(exc)
    assert code == "UnsupportedOperationException" and "ED25519_PH_SHA_512" in message
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert error_of(exc)[0] == "InvalidKeyUsageException"


# -- ML-DSA ------------------------------------------------------------------------------------------

_MLDSA_PUBLIC = {
    "ML_DSA_44": mldsa.MLDSA44PublicKey,
    "ML_DSA_65": mldsa.MLDSA65PublicKey,
    "ML_DSA_87": mldsa.MLDSA87PublicKey,
}


@pytest.mark.parametrize("spec", sorted(_MLDSA_PUBLIC))
def test_ml_dsa_signatures_verify_with_cryptography(kms: Any, spec: str) -> None:
    key_id = _key(kms, spec, "SIGN_VERIFY")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["SigningAlgorithms"] == ["ML_DSA_SHAKE_256"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, _MLDSA_PUBLIC[spec])
    signature = kms.sign(KeyId=key_id, Message=b"quantum-safe", SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
    public.verify(signature, b"quantum-safe")
    hasher = mldsa.MLDSAMuHasher(public)
    hasher.update(b"quantum-safe")
    mu = hasher.finalize()
    from_mu = kms.sign(KeyId=key_id, Message=mu, SigningAlgorithm="ML_DSA_SHAKE_256", MessageType="EXTERNAL_MU")
    public.verify(from_mu["Signature"], b"quantum-safe")  # signing mu is signing the message it came from
    assert kms.verify(
        KeyId=key_id, Message=mu, MessageType="EXTERNAL_MU", Signature=signature, SigningAlgorithm="ML_DSA_SHAKE_256"
    )["SignatureValid"]
    with pytest.raises(ClientError) as exc:
        kms.verify(KeyId=key_id, Message=b"quantum-unsafe", Signature=signature, SigningAlgorithm="ML_DSA_SHAKE_256")
    assert error_of(exc)[0] == "KMSInvalidSignatureException"


def test_ml_dsa_message_type_rules(kms: Any) -> None:
    key_id = _key(kms, "ML_DSA_44", "SIGN_VERIFY")
    for message, message_type in ((b"x" * 63, "EXTERNAL_MU"), (b"x" * 64, "DIGEST")):
        with pytest.raises(ClientError) as exc:
            kms.sign(KeyId=key_id, Message=message, SigningAlgorithm="ML_DSA_SHAKE_256", MessageType=message_type)
        assert error_of(exc)[0] == "ValidationException", message_type
    rsa_key = _key(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=rsa_key, Message=b"x" * 64, SigningAlgorithm="ECDSA_SHA_256", MessageType="EXTERNAL_MU")
    assert error_of(exc) == ("ValidationException", "MessageType EXTERNAL_MU is valid only for ML_DSA key specs.")


# -- ML-KEM ------------------------------------------------------------------------------------------

_MLKEM_PUBLIC = {"ML_KEM_768": mlkem.MLKEM768PublicKey, "ML_KEM_1024": mlkem.MLKEM1024PublicKey}


@pytest.mark.parametrize("spec", sorted(_MLKEM_PUBLIC))
def test_ml_kem_round_trips_with_cryptography(kms: Any, spec: str) -> None:
    key_id = _key(kms, spec, "ENCAPSULATE_DECAPSULATE")
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["EncapsulationAlgorithms"] == ["ML_KEM"] and meta["KeyUsage"] == "ENCAPSULATE_DECAPSULATE"
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, _MLKEM_PUBLIC[spec])
    # Someone outside KMS encapsulates to the public key; KMS decapsulates.
    secret, blob = public.encapsulate()
    out = kms.decapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM", SharedSecretCiphertextBlob=blob)
    assert out["SharedSecret"] == secret and out["KeyId"] == key_arn(key_id)
    # KMS encapsulates; decapsulating again returns the same secret.
    enc = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    assert len(enc["SharedSecret"]) == 32
    again = kms.decapsulate(
        KeyId=key_id, EncapsulationAlgorithm="ML_KEM", SharedSecretCiphertextBlob=enc["SharedSecretCiphertextBlob"]
    )
    assert again["SharedSecret"] == enc["SharedSecret"]


@covers("Encapsulate", "Decapsulate", "CreateKey", aspect="errors")
def test_ml_kem_errors(kms: Any) -> None:
    key_id = _key(kms, "ML_KEM_768", "ENCAPSULATE_DECAPSULATE")
    with pytest.raises(ClientError) as exc:
        kms.decapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM", SharedSecretCiphertextBlob=b"short")
    assert error_of(exc)[0] == "InvalidCiphertextException"
    symmetric = str(kms.create_key()["KeyMetadata"]["KeyId"])
    with pytest.raises(ClientError) as exc:
        kms.encapsulate(KeyId=symmetric, EncapsulationAlgorithm="ML_KEM")
    assert error_of(exc)[0] == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as exc:
        kms.create_key(KeySpec="ML_KEM_512", KeyUsage="ENCAPSULATE_DECAPSULATE")
    code, message = error_of(exc)
    assert code == "UnsupportedOperationException" and "ML_KEM_512" in message
    with pytest.raises(ClientError) as exc:
        kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCRYPT_DECRYPT")
    assert error_of(exc)[0] == "ValidationException"


# -- data key pairs ----------------------------------------------------------------------------------

_PAIR_TYPES: dict[str, Any] = {
    "RSA_2048": None,
    "RSA_3072": None,
    "RSA_4096": None,
    "ECC_NIST_P256": ec.EllipticCurvePrivateKey,
    "ECC_NIST_P384": ec.EllipticCurvePrivateKey,
    "ECC_NIST_P521": ec.EllipticCurvePrivateKey,
    "ECC_SECG_P256K1": ec.EllipticCurvePrivateKey,
    "ECC_NIST_EDWARDS25519": ed25519.Ed25519PrivateKey,
    "ML_KEM_768": mlkem.MLKEM768PrivateKey,
    "ML_KEM_1024": mlkem.MLKEM1024PrivateKey,
}
_NOT_EMULATED_PAIRS = {"SM2", "ML_KEM_512"}


def test_pair_specs_cover_botocores_model() -> None:
    listed = set(service_model()["shapes"]["DataKeyPairSpec"]["enum"])
    assert listed == set(_PAIR_TYPES) | _NOT_EMULATED_PAIRS


@pytest.mark.parametrize("pair_spec", sorted(_PAIR_TYPES))
def test_data_key_pair_for_every_emulated_spec(kms: Any, pair_spec: str) -> None:
    key_id = str(kms.create_key()["KeyMetadata"]["KeyId"])
    out = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec=pair_spec, EncryptionContext={"p": pair_spec})
    private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    if _PAIR_TYPES[pair_spec] is not None:
        assert isinstance(private, _PAIR_TYPES[pair_spec])
    assert _spki(private.public_key()) == out["PublicKey"] and out["KeyPairSpec"] == pair_spec
    sealed = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext={"p": pair_spec})
    assert sealed["Plaintext"] == out["PrivateKeyPlaintext"]
    bare = kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec=pair_spec)
    assert "PrivateKeyPlaintext" not in bare
    assert serialization.load_der_public_key(bare["PublicKey"]) is not None


@covers("GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", aspect="errors")
@pytest.mark.parametrize("pair_spec", sorted(_NOT_EMULATED_PAIRS))
def test_data_key_pair_specs_that_cryptography_lacks_are_named(kms: Any, pair_spec: str) -> None:
    key_id = str(kms.create_key()["KeyMetadata"]["KeyId"])
    for call in (kms.generate_data_key_pair, kms.generate_data_key_pair_without_plaintext):
        with pytest.raises(ClientError) as exc:
            call(KeyId=key_id, KeyPairSpec=pair_spec)
        code, message = error_of(exc)
        assert code == "UnsupportedOperationException" and pair_spec in message


def test_engine_and_trail_agree_on_read_only_operations() -> None:
    from kmslab.kms import LocalKms

    # The engine runs these without its lock; CloudTrail marks them readOnly. One list, or the trail lies:
    # both read the read-only flag of the one operation table.
    from kmslab.kms.ops import OPERATIONS
    from kmslab.trail.record import READ_ONLY_OPERATIONS

    assert LocalKms.READ_ONLY == READ_ONLY_OPERATIONS
    assert READ_ONLY_OPERATIONS is LocalKms.READ_ONLY
    assert {name for name, op in OPERATIONS.items() if op.read_only} == READ_ONLY_OPERATIONS
    assert {"DeriveSharedSecret", "Encapsulate", "Decapsulate", "GetKeyLastUsage"} <= LocalKms.READ_ONLY
