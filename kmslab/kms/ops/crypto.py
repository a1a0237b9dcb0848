"""Cryptographic operations with symmetric and RSA encryption keys: Encrypt, Decrypt, ReEncrypt, data keys, random.

Signing, MACs and public keys are in :mod:`kmslab.kms.ops.signing`; key agreement in :mod:`kmslab.kms.ops.agreement`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kmslab.kms import _ciphertext, _crypto
from kmslab.kms._context import KEY_ID_RE, RequestContext
from kmslab.kms._records import BackingKey, Key
from kmslab.kms._responses import b64
from kmslab.kms._specs import DATA_KEY_PAIR_SPECS, RSA_OAEP_MAX_PLAINTEXT, SPECS
from kmslab.kms.errors import (
    IncorrectKeyException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    KMSInvalidStateException,
    UnsupportedOperationException,
    ValidationException,
)
from kmslab.kms.ops.grants import check_tokens

SYMMETRIC = "SYMMETRIC_DEFAULT"


def _context_keys(ec: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {f"kms:EncryptionContext:{k}": v for k, v in ec.items()}
    out["kms:EncryptionContextKeys"] = sorted(ec)
    return out


def no_recipient(p: Mapping[str, Any]) -> None:
    """Refuse a Recipient (Nitro Enclaves attestation document), which the local KMS cannot verify.

    Args:
        p: the request.

    Raises:
        UnsupportedOperationException: a Recipient was given.
    """
    if p.get("Recipient"):
        raise UnsupportedOperationException("Recipient (Nitro Enclaves attestation) is not supported by the local KMS.")


def require_usage(key: Key, usage: str, operation: str) -> None:
    """Refuse a key whose KeyUsage is not the one the operation needs.

    Args:
        key: the key.
        usage: the KeyUsage the operation needs.
        operation: the operation, for the message.

    Raises:
        InvalidKeyUsageException: another usage.
    """
    if key.key_usage != usage:
        raise InvalidKeyUsageException(f"{key.arn} key usage is {key.key_usage} which is not valid for {operation}.")


def current_backing(key: Key) -> BackingKey:
    """Return the key's current backing key.

    Args:
        key: the key.

    Returns:
        The current backing key, with material.

    Raises:
        KMSInvalidStateException: the key has no usable material (imported material absent).
    """
    current = key.current
    if current is None or current.material is None:
        raise KMSInvalidStateException(f"{key.arn} is pending import.")
    return current


def _encrypt_with(key: Key, algorithm: str, plaintext: bytes, ec: Mapping[str, str]) -> tuple[bytes, str | None]:
    """Encrypt under a key; returns the ciphertext and the backing key ID (symmetric keys)."""
    current = current_backing(key)
    assert current.material is not None
    if key.key_spec == SYMMETRIC:
        if algorithm != SYMMETRIC:
            raise InvalidKeyUsageException(f"The encryption algorithm {algorithm} is not valid for {key.arn}.")
        blob = _ciphertext.seal(key.key_id, current.material_id, current.material, plaintext, ec)
        return blob, current.material_id
    if algorithm not in SPECS[key.key_spec].encryption:
        raise InvalidKeyUsageException(f"The encryption algorithm {algorithm} is not valid for {key.arn}.")
    if ec:
        raise ValidationException("EncryptionContext is not supported with asymmetric KMS keys.")
    limit = RSA_OAEP_MAX_PLAINTEXT[(SPECS[key.key_spec].size, algorithm)]
    if len(plaintext) > limit:
        raise ValidationException(
            f"Plaintext of {len(plaintext)} bytes is too long for {key.key_spec} with {algorithm} "
            f"(at most {limit} bytes)."
        )
    return _crypto.rsa_encrypt(current.material, algorithm, plaintext), None


def _decrypt_any(
    ctx: RequestContext,
    p: Mapping[str, Any],
    *,
    blob: bytes,
    ec: Mapping[str, str],
    key_ref: str | None,
    algorithm: str,
    action: str,
    state_op: str,
    tokens: tuple[str, ...],
) -> tuple[Key, bytes, str | None]:
    """Decrypt a ciphertext (Decrypt and the source side of ReEncrypt)."""
    requested: Key | None = None
    alias: str | None = None
    if key_ref is not None:
        requested, alias = ctx.resolve(key_ref)

    def auth_context() -> dict[str, Any]:
        return {**_context_keys(ec), "kms:EncryptionAlgorithm": algorithm}

    if algorithm == SYMMETRIC and (requested is None or requested.key_spec == SYMMETRIC):
        header = _ciphertext.parse(blob)
        if not KEY_ID_RE.match(header.key_id):
            raise InvalidCiphertextException("")
        if requested is not None and requested.key_id != header.key_id:
            raise IncorrectKeyException(
                "The key ID in the request does not identify a CMK that can perform this operation."
            )
        key = requested or ctx.key_by_id(header.key_id)
        ctx.authorize(action, key, request_alias=alias, grant_tokens=tokens, context=auth_context)
        ctx.check_state(state_op, key)
        require_usage(key, "ENCRYPT_DECRYPT", ctx.operation)
        backing = key.backing_by_id(header.material_id)
        if backing is None or backing.material is None:
            raise InvalidCiphertextException("")
        ctx.dry_run(p)
        return key, _ciphertext.open_blob(header, backing.material, ec), backing.material_id
    if requested is None:
        raise ValidationException("KeyId is required when the encryption algorithm is not SYMMETRIC_DEFAULT.")
    key = requested
    ctx.authorize(action, key, request_alias=alias, grant_tokens=tokens, context=auth_context)
    ctx.check_state(state_op, key)
    require_usage(key, "ENCRYPT_DECRYPT", ctx.operation)
    if algorithm not in SPECS[key.key_spec].encryption:
        raise InvalidKeyUsageException(f"The encryption algorithm {algorithm} is not valid for {key.arn}.")
    ctx.dry_run(p)
    current = current_backing(key)
    assert current.material is not None
    try:
        return key, _crypto.rsa_decrypt(current.material, algorithm, blob), None
    except ValueError:
        raise InvalidCiphertextException("") from None


def encrypt(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """Encrypt: plaintext under a symmetric key (bound to the encryption context) or an asymmetric encryption key."""
    key, alias = ctx.resolve(p["KeyId"])
    ec = p.get("EncryptionContext") or {}
    algorithm = p.get("EncryptionAlgorithm") or SYMMETRIC
    tokens = check_tokens(ctx.registry, grant) if (grant := p.get("GrantTokens")) else ()
    ctx.authorize(
        "kms:Encrypt",
        key,
        request_alias=alias,
        grant_tokens=tokens,
        context=lambda: {**_context_keys(ec), "kms:EncryptionAlgorithm": algorithm},
    )
    ctx.check_state("Encrypt", key)
    require_usage(key, "ENCRYPT_DECRYPT", "Encrypt")
    ctx.dry_run(p)
    blob, _ = _encrypt_with(key, algorithm, p["Plaintext"], ec)
    return {"CiphertextBlob": b64(blob), "KeyId": key.arn, "EncryptionAlgorithm": algorithm}


def decrypt(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """Decrypt (KeyId optional for symmetric ciphertexts: the blob names its key)."""
    no_recipient(p)
    algorithm = p.get("EncryptionAlgorithm") or SYMMETRIC
    key, plaintext, material_id = _decrypt_any(
        ctx,
        p,
        blob=p["CiphertextBlob"],
        ec=p.get("EncryptionContext") or {},
        key_ref=p.get("KeyId"),
        algorithm=algorithm,
        action="kms:Decrypt",
        state_op="Decrypt",
        tokens=check_tokens(ctx.registry, p.get("GrantTokens", ())),
    )
    out = {"KeyId": key.arn, "Plaintext": b64(plaintext), "EncryptionAlgorithm": algorithm}
    if material_id is not None:
        out["KeyMaterialId"] = material_id
    return out


def re_encrypt(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """ReEncrypt: decrypt under the source key and encrypt under the destination key."""
    source_alg = p.get("SourceEncryptionAlgorithm") or SYMMETRIC
    dest_alg = p.get("DestinationEncryptionAlgorithm") or SYMMETRIC
    tokens = check_tokens(ctx.registry, grant) if (grant := p.get("GrantTokens")) else ()
    dest, dest_alias = ctx.resolve(p["DestinationKeyId"])
    source, plaintext, source_material = _decrypt_any(
        ctx,
        {},
        blob=p["CiphertextBlob"],
        ec=p.get("SourceEncryptionContext") or {},
        key_ref=p.get("SourceKeyId"),
        algorithm=source_alg,
        action="kms:ReEncryptFrom",
        state_op="ReEncryptFrom",
        tokens=tokens,
    )
    dest_ec = p.get("DestinationEncryptionContext") or {}
    ctx.authorize(
        "kms:ReEncryptTo",
        dest,
        request_alias=dest_alias,
        grant_tokens=tokens,
        context={
            **_context_keys(dest_ec),
            "kms:EncryptionAlgorithm": dest_alg,
            "kms:ReEncryptOnSameKey": (dest.arn == source.arn),
        },
    )
    ctx.check_state("ReEncryptTo", dest)
    require_usage(dest, "ENCRYPT_DECRYPT", "ReEncrypt")
    ctx.dry_run(p)
    blob, dest_material = _encrypt_with(dest, dest_alg, plaintext, dest_ec)
    out: dict[str, Any] = {
        "CiphertextBlob": b64(blob),
        "SourceKeyId": source.arn,
        "KeyId": dest.arn,
        "SourceEncryptionAlgorithm": source_alg,
        "DestinationEncryptionAlgorithm": dest_alg,
    }
    if source_material is not None:
        out["SourceKeyMaterialId"] = source_material
    if dest_material is not None:
        out["DestinationKeyMaterialId"] = dest_material
    return out


def _data_key_target(ctx: RequestContext, p: Mapping[str, Any], operation: str, extra: Mapping[str, Any]) -> Key:
    key, alias = ctx.resolve(p["KeyId"])
    ec = p.get("EncryptionContext") or {}
    tokens = check_tokens(ctx.registry, grant) if (grant := p.get("GrantTokens")) else ()
    ctx.authorize(
        f"kms:{operation}",
        key,
        request_alias=alias,
        grant_tokens=tokens,
        context=lambda: {**_context_keys(ec), "kms:EncryptionAlgorithm": SYMMETRIC, **extra},
    )
    ctx.check_state(operation, key)
    require_usage(key, "ENCRYPT_DECRYPT", operation)
    if key.key_spec != SYMMETRIC:
        raise InvalidKeyUsageException(f"{key.arn} key spec {key.key_spec} is not valid for {operation}.")
    return key


def _generate_data_key(ctx: RequestContext, p: dict[str, Any], operation: str) -> tuple[dict[str, Any], bytes]:
    number, spec = p.get("NumberOfBytes"), p.get("KeySpec")
    if (number is None) == (spec is None):
        raise ValidationException("Please specify either number of bytes or key spec.")
    key = _data_key_target(ctx, p, operation, {})
    ctx.dry_run(p)
    size = number if number is not None else (32 if spec == "AES_256" else 16)
    plaintext = os.urandom(size)
    blob, material_id = _encrypt_with(key, SYMMETRIC, plaintext, p.get("EncryptionContext") or {})
    return {"CiphertextBlob": b64(blob), "KeyId": key.arn, "KeyMaterialId": material_id}, plaintext


def generate_data_key(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """GenerateDataKey (KeySpec AES_128/AES_256 or NumberOfBytes 1-1024, exactly one)."""
    no_recipient(p)
    out, plaintext = _generate_data_key(ctx, p, "GenerateDataKey")
    out["Plaintext"] = b64(plaintext)
    return out


def generate_data_key_without_plaintext(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """GenerateDataKeyWithoutPlaintext: as GenerateDataKey, but only the encrypted copy of the data key comes back."""
    out, _ = _generate_data_key(ctx, p, "GenerateDataKeyWithoutPlaintext")
    return out


def _generate_pair(ctx: RequestContext, p: dict[str, Any], operation: str) -> tuple[dict[str, Any], bytes]:
    pair_spec = p["KeyPairSpec"]
    key = _data_key_target(ctx, p, operation, {"kms:DataKeyPairSpec": pair_spec})
    if pair_spec not in DATA_KEY_PAIR_SPECS:
        raise UnsupportedOperationException(f"KeyPairSpec {pair_spec} is not supported by the local KMS.")
    ctx.dry_run(p)
    private = _crypto.generate_material(pair_spec)  # SM2 and ML_KEM_512 answer UnsupportedOperationException
    blob, material_id = _encrypt_with(key, SYMMETRIC, private, p.get("EncryptionContext") or {})
    out = {
        "PrivateKeyCiphertextBlob": b64(blob),
        "PublicKey": b64(_crypto.public_der(private)),
        "KeyId": key.arn,
        "KeyPairSpec": pair_spec,
        "KeyMaterialId": material_id,
    }
    return out, private


def generate_data_key_pair(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """GenerateDataKeyPair (RSA, ECC, Ed25519 and ML-KEM key pairs; the private key as PKCS#8 DER)."""
    no_recipient(p)
    out, private = _generate_pair(ctx, p, "GenerateDataKeyPair")
    out["PrivateKeyPlaintext"] = b64(private)
    return out


def generate_data_key_pair_without_plaintext(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """GenerateDataKeyPairWithoutPlaintext: as GenerateDataKeyPair, without the plaintext private key."""
    out, _ = _generate_pair(ctx, p, "GenerateDataKeyPairWithoutPlaintext")
    return out


def generate_random(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """GenerateRandom (NumberOfBytes 1-1024)."""
    no_recipient(p)
    if p.get("CustomKeyStoreId"):
        raise UnsupportedOperationException("Custom key stores are not supported by the local KMS.")
    if p.get("NumberOfBytes") is None:
        raise ValidationException(
            "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy constraint: "
            "Member must not be null"
        )
    ctx.authorize("kms:GenerateRandom", None)
    return {"Plaintext": b64(os.urandom(p["NumberOfBytes"]))}
