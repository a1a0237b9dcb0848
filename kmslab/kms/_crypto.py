"""Cryptographic primitives of the local KMS, all from ``cryptography``.

AES-256-GCM for symmetric keys, RSA-OAEP for asymmetric encryption and key import,
RSA-PSS / PKCS#1 v1.5 and ECDSA for signing, HMAC for MAC keys.
"""

from __future__ import annotations

import functools
import hmac as _hmac
import os
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab.kms._specs import SPECS
from kmslab.kms.errors import KMSInvalidSignatureException, ValidationException

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA_1": hashes.SHA1,
    "SHA_224": hashes.SHA224,
    "SHA_256": hashes.SHA256,
    "SHA_384": hashes.SHA384,
    "SHA_512": hashes.SHA512,
}


def _hash_of(algorithm: str) -> hashes.HashAlgorithm:
    """Return the hash an algorithm name ends with (``..._SHA_256`` -> SHA256)."""
    return _HASHES["SHA_" + algorithm.rsplit("_", 1)[1]]()


def generate_material(key_spec: str) -> bytes:
    """Create fresh key material for a key spec.

    Args:
        key_spec: a KeySpec from :data:`kmslab.kms._specs.SPECS`.

    Returns:
        32 random bytes (symmetric), the HMAC key bytes, or the private key as PKCS#8 DER.
    """
    info = SPECS[key_spec]
    if info.family in ("symmetric", "hmac"):
        return os.urandom(info.size)
    private: PrivateKeyTypes
    if info.family == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=info.size)
    else:
        private = ec.generate_private_key(_CURVES[key_spec]())
    return private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@functools.lru_cache(maxsize=256)
def load_private(der: bytes) -> Any:
    """Load (and cache) a PKCS#8 DER private key.

    Args:
        der: the private key.

    Returns:
        The ``cryptography`` private key object.
    """
    return serialization.load_der_private_key(der, password=None)


def public_der(private_der: bytes) -> bytes:
    """Return the DER SubjectPublicKeyInfo of a private key.

    Args:
        private_der: the PKCS#8 DER private key.

    Returns:
        The public key, DER-encoded.
    """
    key = load_private(private_der)
    out: bytes = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return out


def _oaep_digest(algorithm: str) -> hashes.HashAlgorithm:
    # SHA-1 inside OAEP is what AWS KMS's RSAES_OAEP_SHA_1 / RSA_AES_KEY_WRAP_SHA_1 mean.
    return hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()  # noqa: S303


def _oaep(algorithm: str) -> padding.OAEP:
    digest = _oaep_digest(algorithm)
    return padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)


def rsa_encrypt(private_der: bytes, algorithm: str, plaintext: bytes) -> bytes:
    """Encrypt with the public half of an RSA key (RSAES_OAEP_SHA_1 or _SHA_256).

    Args:
        private_der: the RSA private key (its public key is used).
        algorithm: the EncryptionAlgorithm.
        plaintext: the data.

    Returns:
        The raw RSA-OAEP ciphertext.
    """
    out: bytes = load_private(private_der).public_key().encrypt(plaintext, _oaep(algorithm))
    return out


def rsa_decrypt(private_der: bytes, algorithm: str, ciphertext: bytes) -> bytes:
    """Decrypt an RSA-OAEP ciphertext.

    Args:
        private_der: the RSA private key.
        algorithm: the EncryptionAlgorithm used to encrypt.
        ciphertext: the raw ciphertext.

    Returns:
        The plaintext.

    Raises:
        ValueError: the ciphertext does not decrypt.
    """
    out: bytes = load_private(private_der).decrypt(ciphertext, _oaep(algorithm))
    return out


def rsa_oaep_unwrap(private_key: rsa.RSAPrivateKey, algorithm: str, wrapped: bytes) -> bytes:
    """Unwrap imported key material (RSAES_OAEP_SHA_* on its own, or RSA_AES_KEY_WRAP_SHA_*).

    Args:
        private_key: the wrapping private key.
        algorithm: the WrappingAlgorithm.
        wrapped: the EncryptedKeyMaterial.

    Returns:
        The key material.

    Raises:
        ValueError: the material does not unwrap.
    """
    from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding

    if algorithm.startswith("RSA_AES_KEY_WRAP"):
        size = private_key.key_size // 8
        aes_key = private_key.decrypt(wrapped[:size], _oaep(algorithm))
        return aes_key_unwrap_with_padding(aes_key, wrapped[size:])
    return private_key.decrypt(wrapped, _oaep(algorithm))


def _check_digest(message: bytes, digest: hashes.HashAlgorithm, algorithm: str) -> None:
    if len(message) != digest.digest_size:
        raise ValidationException(f"Digest is invalid length for algorithm {algorithm}.")


def sign(private_der: bytes, key_spec: str, algorithm: str, message: bytes, message_type: str) -> bytes:
    """Sign a message or digest.

    Args:
        private_der: the private key.
        key_spec: the key's spec (RSA_* or ECC_*).
        algorithm: the SigningAlgorithm.
        message: the message, or its digest when ``message_type`` is ``DIGEST``.
        message_type: ``RAW`` or ``DIGEST``.

    Returns:
        The signature (DER for ECDSA).

    Raises:
        ValidationException: a digest of the wrong length.
    """
    digest = _hash_of(algorithm)
    chosen: Any = digest
    if message_type == "DIGEST":
        _check_digest(message, digest, algorithm)
        chosen = utils.Prehashed(digest)
    key = load_private(private_der)
    if key_spec.startswith("ECC"):
        out: bytes = key.sign(message, ec.ECDSA(chosen))
    elif "_PSS_" in algorithm:
        out = key.sign(message, padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), chosen)
    else:
        out = key.sign(message, padding.PKCS1v15(), chosen)
    return out


def verify(
    private_der: bytes, key_spec: str, algorithm: str, message: bytes, message_type: str, signature: bytes
) -> None:
    """Verify a signature.

    Args:
        private_der: the private key (its public key is used).
        key_spec: the key's spec.
        algorithm: the SigningAlgorithm.
        message: the message or digest.
        message_type: ``RAW`` or ``DIGEST``.
        signature: the signature to check.

    Raises:
        KMSInvalidSignatureException: the signature does not verify.
        ValidationException: a digest of the wrong length.
    """
    digest = _hash_of(algorithm)
    chosen: Any = digest
    if message_type == "DIGEST":
        _check_digest(message, digest, algorithm)
        chosen = utils.Prehashed(digest)
    public = load_private(private_der).public_key()
    try:
        if key_spec.startswith("ECC"):
            public.verify(signature, message, ec.ECDSA(chosen))
        elif "_PSS_" in algorithm:
            public.verify(
                signature, message, padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), chosen
            )
        else:
            public.verify(signature, message, padding.PKCS1v15(), chosen)
    except (InvalidSignature, ValueError):
        raise KMSInvalidSignatureException("") from None


def mac(key: bytes, algorithm: str, message: bytes) -> bytes:
    """Compute an HMAC tag.

    Args:
        key: the HMAC key.
        algorithm: ``HMAC_SHA_224`` ... ``HMAC_SHA_512``.
        message: the message.

    Returns:
        The tag.
    """
    name = "sha" + algorithm.rsplit("_", 1)[1]
    return _hmac.new(key, message, name).digest()


@functools.lru_cache(maxsize=1024)
def aesgcm(key: bytes) -> AESGCM:
    """Return (and cache) an AES-GCM cipher for a key.

    Args:
        key: a 16- or 32-byte AES key.

    Returns:
        The cipher object.
    """
    return AESGCM(key)
