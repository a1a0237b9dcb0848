"""Cryptographic operations through a real boto3 client: symmetric, RSA, signing, MACs, data keys, tampering."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from tests.kms.helpers import covers, error_of, key_arn


@pytest.fixture
def key_id(kms: Any) -> str:
    return str(kms.create_key()["KeyMetadata"]["KeyId"])


def test_encrypt_decrypt_round_trip_without_key_id(kms: Any, key_id: str) -> None:
    out = kms.encrypt(KeyId=key_id, Plaintext=b"attack at dawn", EncryptionContext={"b": "2", "a": "1"})
    assert out["KeyId"] == key_arn(key_id) and out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert b"attack at dawn" not in out["CiphertextBlob"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"a": "1", "b": "2"})
    assert back["Plaintext"] == b"attack at dawn"
    assert back["KeyId"] == key_arn(key_id)
    assert back["KeyMaterialId"] == kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]


def test_each_encryption_is_fresh(kms: Any, key_id: str) -> None:
    first = kms.encrypt(KeyId=key_id, Plaintext=b"same")["CiphertextBlob"]
    second = kms.encrypt(KeyId=key_id, Plaintext=b"same")["CiphertextBlob"]
    assert first != second


@covers("Decrypt", aspect="errors")
@pytest.mark.parametrize(
    "context",
    [None, {"a": "1"}, {"a": "1", "b": "3"}, {"a": "2", "b": "2"}, {"A": "1", "b": "2"}],
    ids=["missing", "subset", "different-value", "swapped", "key-case"],
)
def test_wrong_or_missing_context_is_refused(kms: Any, key_id: str, context: dict[str, str] | None) -> None:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"a": "1", "b": "2"})["CiphertextBlob"]
    params: dict[str, Any] = {"CiphertextBlob": blob}
    if context is not None:
        params["EncryptionContext"] = context
    with pytest.raises(ClientError) as exc:
        kms.decrypt(**params)
    assert error_of(exc)[0] == "InvalidCiphertextException"


def test_context_given_where_none_was_used_is_refused(kms: Any, key_id: str) -> None:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"extra": "1"})
    assert error_of(exc)[0] == "InvalidCiphertextException"


# Byte regions of the blob: magic, version, key-ID length, key ID, backing key ID, nonce, body, tag.
def _regions(blob: bytes) -> dict[str, int]:
    n = blob[3]
    return {
        "magic": 0,
        "version": 2,
        "key-id-length": 3,
        "key-id": 4 + n // 2,
        "material-id": 4 + n + 5,
        "nonce": 4 + n + 32 + 3,
        "body": 4 + n + 32 + 12 + 2,
        "tag": len(blob) - 3,
    }


@covers("Decrypt", aspect="errors")
@pytest.mark.parametrize(
    "region", ["magic", "version", "key-id-length", "key-id", "material-id", "nonce", "body", "tag"]
)
def test_tampering_with_any_region_is_refused(kms: Any, key_id: str, region: str) -> None:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"tamper me please", EncryptionContext={"k": "v"})["CiphertextBlob"]
    index = _regions(blob)[region]
    tampered = bytearray(blob)
    tampered[index] ^= 0x80
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=bytes(tampered), EncryptionContext={"k": "v"})
    assert error_of(exc)[0] == "InvalidCiphertextException"
    truncated = blob[: len(blob) - 1]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=truncated, EncryptionContext={"k": "v"})
    assert error_of(exc)[0] == "InvalidCiphertextException"


def test_garbage_ciphertext_is_refused(kms: Any, key_id: str) -> None:
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=b"not a ciphertext at all")
    assert error_of(exc)[0] == "InvalidCiphertextException"


@covers("Decrypt", aspect="errors")
def test_decrypt_with_another_key_id_is_incorrect_key(kms: Any, key_id: str) -> None:
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, KeyId=other)
    assert error_of(exc)[0] == "IncorrectKeyException"
    with pytest.raises(ClientError) as exc:
        kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=other, DestinationKeyId=other)
    assert error_of(exc)[0] == "IncorrectKeyException"


@covers("Encrypt", aspect="errors")
def test_plaintext_size_limits(kms_engine: Any, key_id: str) -> None:
    client = kms_engine.boto3_client(parameter_validation=False)
    assert (
        client.decrypt(CiphertextBlob=client.encrypt(KeyId=key_id, Plaintext=b"x" * 4096)["CiphertextBlob"])[
            "Plaintext"
        ]
        == b"x" * 4096
    )
    with pytest.raises(ClientError) as exc:
        client.encrypt(KeyId=key_id, Plaintext=b"x" * 4097)
    assert error_of(exc) == (
        "ValidationException",
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096",
    )
    with pytest.raises(ClientError) as exc:
        client.encrypt(KeyId=key_id, Plaintext=b"")
    assert error_of(exc)[0] == "ValidationException"
    assert "greater than or equal to 1" in error_of(exc)[1]


def test_re_encrypt_moves_between_keys_and_contexts(kms: Any, key_id: str) -> None:
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"move me", EncryptionContext={"from": "a"})["CiphertextBlob"]
    out = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"from": "a"},
        DestinationKeyId=other,
        DestinationEncryptionContext={"to": "b"},
    )
    assert (out["SourceKeyId"], out["KeyId"]) == (key_arn(key_id), key_arn(other))
    assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"to": "b"})["Plaintext"] == b"move me"
    with pytest.raises(ClientError) as exc:
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other)  # source context missing
    assert error_of(exc)[0] == "InvalidCiphertextException"


@pytest.mark.parametrize(
    ("params", "size"),
    [
        ({"KeySpec": "AES_256"}, 32),
        ({"KeySpec": "AES_128"}, 16),
        ({"NumberOfBytes": 1}, 1),
        ({"NumberOfBytes": 1024}, 1024),
    ],
)
def test_generate_data_key(kms: Any, key_id: str, params: dict[str, Any], size: int) -> None:
    out = kms.generate_data_key(KeyId=key_id, EncryptionContext={"p": "q"}, **params)
    assert len(out["Plaintext"]) == size
    assert (
        kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"p": "q"})["Plaintext"] == out["Plaintext"]
    )
    bare = kms.generate_data_key_without_plaintext(KeyId=key_id, **params)
    assert "Plaintext" not in bare
    assert len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == size


@covers("GenerateDataKey", aspect="errors")
@pytest.mark.parametrize("params", [{}, {"KeySpec": "AES_256", "NumberOfBytes": 32}])
def test_generate_data_key_needs_exactly_one_size(kms: Any, key_id: str, params: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=key_id, **params)
    assert error_of(exc) == ("ValidationException", "Please specify either number of bytes or key spec.")


@covers("GenerateDataKey", aspect="errors")
def test_generate_data_key_bounds(kms_engine: Any, key_id: str) -> None:
    client = kms_engine.boto3_client(parameter_validation=False)
    for bad in (0, 1025):
        with pytest.raises(ClientError) as exc:
            client.generate_data_key(KeyId=key_id, NumberOfBytes=bad)
        assert error_of(exc)[0] == "ValidationException"
        assert "numberOfBytes" in error_of(exc)[1]


@pytest.mark.parametrize("pair_spec", ["RSA_2048", "ECC_NIST_P256", "ECC_SECG_P256K1"])
def test_generate_data_key_pair(kms: Any, key_id: str, pair_spec: str) -> None:
    out = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec=pair_spec, EncryptionContext={"use": "sig"})
    private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public == out["PublicKey"] and out["KeyPairSpec"] == pair_spec
    decrypted = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext={"use": "sig"})
    assert decrypted["Plaintext"] == out["PrivateKeyPlaintext"]
    bare = kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec=pair_spec)
    assert "PrivateKeyPlaintext" not in bare and bare["PublicKey"]


def test_generate_random(kms: Any) -> None:
    a, b = kms.generate_random(NumberOfBytes=64)["Plaintext"], kms.generate_random(NumberOfBytes=64)["Plaintext"]
    assert len(a) == 64 and a != b


@covers("Sign", "GetPublicKey", aspect="errors")
def test_symmetric_key_refuses_sign_and_public_key(kms: Any, key_id: str) -> None:
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert error_of(exc)[0] == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as exc:
        kms.get_public_key(KeyId=key_id)
    assert error_of(exc)[0] == "UnsupportedOperationException"


def test_rsa_encryption(kms: Any) -> None:
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    for algorithm, digest, limit in (
        ("RSAES_OAEP_SHA_1", hashes.SHA1(), 214),
        ("RSAES_OAEP_SHA_256", hashes.SHA256(), 190),
    ):
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"r" * limit, EncryptionAlgorithm=algorithm)["CiphertextBlob"]
        back = kms.decrypt(CiphertextBlob=blob, KeyId=key_id, EncryptionAlgorithm=algorithm)
        assert back["Plaintext"] == b"r" * limit and back["EncryptionAlgorithm"] == algorithm
        with pytest.raises(ClientError) as exc:
            kms.encrypt(KeyId=key_id, Plaintext=b"r" * (limit + 1), EncryptionAlgorithm=algorithm)
        assert error_of(exc)[0] == "ValidationException"
        # Ciphertext made outside KMS with the public key decrypts inside it.
        outside = public.encrypt(b"from outside", padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None))  # type: ignore[union-attr]
        assert (
            kms.decrypt(CiphertextBlob=outside, KeyId=key_id, EncryptionAlgorithm=algorithm)["Plaintext"]
            == b"from outside"
        )
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")  # SYMMETRIC_DEFAULT on an RSA key
    assert error_of(exc)[0] == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=b"\x01" * 256, KeyId=key_id, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert error_of(exc)[0] == "InvalidCiphertextException"


SIGNING = [
    ("RSA_2048", "RSASSA_PSS_SHA_256"),
    ("RSA_2048", "RSASSA_PSS_SHA_512"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384"),
    ("ECC_NIST_P256", "ECDSA_SHA_256"),
    ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ("ECC_NIST_P521", "ECDSA_SHA_512"),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
]


def _hash(algorithm: str) -> tuple[Any, str]:
    bits = algorithm.rsplit("_", 1)[1]
    return {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[bits], f"sha{bits}"


@covers("Verify", aspect="errors")
@pytest.mark.parametrize(("spec", "algorithm"), SIGNING)
def test_sign_and_verify(kms: Any, spec: str, algorithm: str) -> None:
    key_id = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    message = b"sign this statement"
    digest_alg, name = _hash(algorithm)
    signature = kms.sign(KeyId=key_id, Message=message, SigningAlgorithm=algorithm)["Signature"]
    assert kms.verify(KeyId=key_id, Message=message, Signature=signature, SigningAlgorithm=algorithm)["SignatureValid"]
    digest = hashlib.new(name, message).digest()
    assert kms.verify(
        KeyId=key_id, Message=digest, MessageType="DIGEST", Signature=signature, SigningAlgorithm=algorithm
    )["SignatureValid"]
    # The public key verifies KMS's signature outside KMS (PSS salt length = digest length).
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    if spec.startswith("ECC"):
        public.verify(signature, message, ec.ECDSA(digest_alg))  # type: ignore[call-arg,union-attr]
    elif "PSS" in algorithm:
        pss = padding.PSS(mgf=padding.MGF1(digest_alg), salt_length=digest_alg.digest_size)
        public.verify(signature, message, pss, digest_alg)  # type: ignore[call-arg,union-attr]
    else:
        public.verify(signature, message, padding.PKCS1v15(), digest_alg)  # type: ignore[call-arg,union-attr]
    with pytest.raises(ClientError) as exc:
        kms.verify(KeyId=key_id, Message=b"another message", Signature=signature, SigningAlgorithm=algorithm)
    assert error_of(exc)[0] == "KMSInvalidSignatureException"
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=key_id, Message=b"short", MessageType="DIGEST", SigningAlgorithm=algorithm)
    assert error_of(exc)[0] == "ValidationException"


@covers("Sign", aspect="errors")
def test_signing_algorithm_must_match_the_key(kms: Any) -> None:
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_384")
    assert error_of(exc)[0] == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"m")
    assert error_of(exc)[0] == "InvalidKeyUsageException"


@covers("GenerateMac", "VerifyMac", aspect="errors")
@pytest.mark.parametrize("bits", [224, 256, 384, 512])
def test_generate_and_verify_mac(kms: Any, bits: int) -> None:
    key_id = kms.create_key(KeySpec=f"HMAC_{bits}", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    algorithm = f"HMAC_SHA_{bits}"
    mac = kms.generate_mac(KeyId=key_id, Message=b"hello", MacAlgorithm=algorithm)["Mac"]
    assert len(mac) == bits // 8
    assert kms.generate_mac(KeyId=key_id, Message=b"hello", MacAlgorithm=algorithm)["Mac"] == mac
    assert kms.verify_mac(KeyId=key_id, Message=b"hello", MacAlgorithm=algorithm, Mac=mac)["MacValid"] is True
    with pytest.raises(ClientError) as exc:
        kms.verify_mac(KeyId=key_id, Message=b"hellO", MacAlgorithm=algorithm, Mac=mac)
    assert error_of(exc)[0] == "KMSInvalidMacException"
    other = "HMAC_SHA_256" if bits != 256 else "HMAC_SHA_512"
    with pytest.raises(ClientError) as exc:
        kms.generate_mac(KeyId=key_id, Message=b"hello", MacAlgorithm=other)
    assert error_of(exc)[0] == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as exc:
        kms.get_public_key(KeyId=key_id)
    assert error_of(exc)[0] == "UnsupportedOperationException"


def test_get_public_key_shape(kms: Any) -> None:
    key_id = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    out = kms.get_public_key(KeyId=key_id)
    assert (out["KeySpec"], out["KeyUsage"], out["SigningAlgorithms"]) == (
        "ECC_NIST_P384",
        "SIGN_VERIFY",
        ["ECDSA_SHA_384"],
    )
    key = serialization.load_der_public_key(out["PublicKey"])
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1"


@covers("Encrypt", aspect="errors")
def test_dry_run(kms: Any, key_id: str) -> None:
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x", DryRun=True)
    assert error_of(exc)[0] == "DryRunOperationException"
    kms.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x", DryRun=True)
    assert error_of(exc)[0] == "DisabledException"
