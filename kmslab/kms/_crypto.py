"""Cryptographic primitives of the local KMS, all from ``cryptography``.

AES-256-GCM for symmetric keys, RSA-OAEP for asymmetric encryption and key import,
RSA-PSS / PKCS#1 v1.5, ECDSA, Ed25519 and ML-DSA (FIPS 204) for signing, ECDH for key
agreement, ML-KEM (FIPS 203) for key encapsulation, HMAC for MAC keys.
"""

from __future__ import annotations

import functools
import hmac as _hmac
import os
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab.kms._specs import NOT_EMULATED, SPECS
from kmslab.kms.errors import (
    InvalidCiphertextException,
    KMSInvalidSignatureException,
    UnsupportedOperationException,
    ValidationException,
)

CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}

_MLDSA: dict[int, Any] = {44: mldsa.MLDSA44PrivateKey, 65: mldsa.MLDSA65PrivateKey, 87: mldsa.MLDSA87PrivateKey}
_MLKEM: dict[int, Any] = {768: mlkem.MLKEM768PrivateKey, 1024: mlkem.MLKEM1024PrivateKey}

# Ed25519ph (RFC 8032 HashEdDSA), which AWS calls ED25519_PH_SHA_512: cryptography signs pure Ed25519 only.
ED25519PH_UNSUPPORTED = (
    "ED25519_PH_SHA_512 (Ed25519ph) is not emulated by the local KMS: cryptography provides pure Ed25519 only. "
    "Use ED25519_SHA_512 with MessageType RAW."
)

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

    Raises:
        UnsupportedOperationException: a spec ``cryptography`` cannot provide (SM2, ML_KEM_512).
    """
    if key_spec in NOT_EMULATED:
        raise UnsupportedOperationException(NOT_EMULATED[key_spec])
    info = SPECS[key_spec]
    if info.family in ("symmetric", "hmac"):
        return os.urandom(info.size)
    private: Any
    if info.family == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=info.size)
    elif info.family == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    elif info.family == "mldsa":
        private = _MLDSA[info.size].generate()
    elif info.family == "mlkem":
        private = _MLKEM[info.size].generate()
    else:
        private = ec.generate_private_key(CURVES[key_spec]())
    der: bytes = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return der


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


def _digest_mode(algorithm: str, message: bytes, message_type: str) -> tuple[hashes.HashAlgorithm, Any]:
    digest = _hash_of(algorithm)
    if message_type == "DIGEST":
        _check_digest(message, digest, algorithm)
        return digest, utils.Prehashed(digest)
    return digest, digest


def check_message_type(key_spec: str, algorithm: str, message: bytes, message_type: str) -> None:
    """Refuse a message type the signing algorithm does not take (AWS's Sign reference).

    Args:
        key_spec: the key's spec.
        algorithm: the SigningAlgorithm.
        message: the message, digest or mu.
        message_type: ``RAW``, ``DIGEST`` or ``EXTERNAL_MU``.

    Raises:
        ValidationException: a message type the algorithm refuses, or a mu that is not 64 bytes.
        UnsupportedOperationException: ED25519_PH_SHA_512, which the local KMS cannot compute.
    """
    if algorithm == "ED25519_SHA_512" and message_type != "RAW":
        raise ValidationException("The ED25519_SHA_512 signing algorithm requires MessageType RAW.")
    if algorithm == "ED25519_PH_SHA_512":
        if message_type != "DIGEST":
            raise ValidationException("The ED25519_PH_SHA_512 signing algorithm requires MessageType DIGEST.")
        raise UnsupportedOperationException(ED25519PH_UNSUPPORTED)
    if algorithm == "ML_DSA_SHAKE_256":
        if message_type == "DIGEST":
            raise ValidationException("MessageType DIGEST is not valid for ML_DSA_SHAKE_256; use RAW or EXTERNAL_MU.")
        if message_type == "EXTERNAL_MU" and len(message) != 64:
            raise ValidationException("When MessageType is EXTERNAL_MU the message must be 64 bytes long.")
    elif message_type == "EXTERNAL_MU":
        raise ValidationException("MessageType EXTERNAL_MU is valid only for ML_DSA key specs.")


def sign(private_der: bytes, key_spec: str, algorithm: str, message: bytes, message_type: str) -> bytes:
    """Sign a message, a digest, or (ML-DSA) an external mu.

    Args:
        private_der: the private key.
        key_spec: the key's spec (RSA_*, ECC_*, ML_DSA_*).
        algorithm: the SigningAlgorithm.
        message: the message, its digest (``DIGEST``) or the 64-byte mu (``EXTERNAL_MU``).
        message_type: ``RAW``, ``DIGEST`` or ``EXTERNAL_MU``.

    Returns:
        The signature (DER for ECDSA, raw for Ed25519 and ML-DSA).

    Raises:
        ValidationException: a digest of the wrong length, or a message type the algorithm refuses.
        UnsupportedOperationException: ED25519_PH_SHA_512.
    """
    check_message_type(key_spec, algorithm, message, message_type)
    key = load_private(private_der)
    family = SPECS[key_spec].family
    if family == "ed25519":
        out: bytes = key.sign(message)
        return out
    if family == "mldsa":
        out = key.sign_mu(message) if message_type == "EXTERNAL_MU" else key.sign(message)
        return out
    digest, chosen = _digest_mode(algorithm, message, message_type)
    if family == "ecc":
        out = key.sign(message, ec.ECDSA(chosen))
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
        message: the message, digest or mu.
        message_type: ``RAW``, ``DIGEST`` or ``EXTERNAL_MU``.
        signature: the signature to check.

    Raises:
        KMSInvalidSignatureException: the signature does not verify.
        ValidationException: a digest of the wrong length, or a message type the algorithm refuses.
        UnsupportedOperationException: ED25519_PH_SHA_512.
    """
    check_message_type(key_spec, algorithm, message, message_type)
    public = load_private(private_der).public_key()
    family = SPECS[key_spec].family
    try:
        if family == "ed25519":
            public.verify(signature, message)
        elif family == "mldsa":
            if message_type == "EXTERNAL_MU":
                public.verify_mu(signature, message)
            else:
                public.verify(signature, message)
        else:
            digest, chosen = _digest_mode(algorithm, message, message_type)
            if family == "ecc":
                public.verify(signature, message, ec.ECDSA(chosen))
            elif "_PSS_" in algorithm:
                public.verify(
                    signature, message, padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), chosen
                )
            else:
                public.verify(signature, message, padding.PKCS1v15(), chosen)
    except (InvalidSignature, ValueError):
        raise KMSInvalidSignatureException("") from None


def derive_shared_secret(private_der: bytes, key_spec: str, peer_public_der: bytes) -> bytes:
    """ECDH: the raw shared secret of a KMS key pair and a peer's public key on the same curve.

    Args:
        private_der: the KMS key's private key.
        key_spec: the KMS key's spec (ECC_NIST_*).
        peer_public_der: the peer's DER SubjectPublicKeyInfo.

    Returns:
        The shared secret (the x coordinate, as SP 800-56A's ECC CDH primitive gives it).

    Raises:
        ValidationException: the peer key is not a public key on the KMS key's curve.
    """
    try:
        peer = serialization.load_der_public_key(peer_public_der)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValidationException("PublicKey is not a valid DER-encoded X.509 public key.") from None
    if not isinstance(peer, ec.EllipticCurvePublicKey) or not isinstance(peer.curve, CURVES[key_spec]):
        raise ValidationException(f"PublicKey must be an elliptic curve public key on the curve of {key_spec}.")
    # NIST curves have cofactor 1, so the cofactor Diffie-Hellman primitive AWS names is plain ECDH here.
    out: bytes = load_private(private_der).exchange(ec.ECDH(), peer)
    return out


def encapsulate(private_der: bytes) -> tuple[bytes, bytes]:
    """ML-KEM encapsulation against the public half of a key.

    Args:
        private_der: the ML-KEM private key.

    Returns:
        (shared secret, ciphertext).
    """
    secret, ciphertext = load_private(private_der).public_key().encapsulate()
    return bytes(secret), bytes(ciphertext)


def decapsulate(private_der: bytes, ciphertext: bytes) -> bytes:
    """ML-KEM decapsulation.

    Args:
        private_der: the ML-KEM private key.
        ciphertext: the encapsulated ciphertext.

    Returns:
        The shared secret.

    Raises:
        InvalidCiphertextException: a ciphertext of the wrong length for the parameter set.
    """
    try:
        out: bytes = load_private(private_der).decapsulate(ciphertext)
    except ValueError:
        raise InvalidCiphertextException("The ciphertext is not valid for this ML-KEM key.") from None
    return out


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
