"""Shared-secret operations: DeriveSharedSecret (ECDH) and Encapsulate / Decapsulate (ML-KEM).

DeriveSharedSecret needs a KEY_AGREEMENT key on a NIST curve; Encapsulate and Decapsulate
need an ENCAPSULATE_DECAPSULATE ML-KEM key. All three check the key state and the
permission like every cryptographic operation, and none returns anything a recorder
may log except the key ID and the algorithm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmslab.kms import _crypto
from kmslab.kms._context import RequestContext
from kmslab.kms._records import Key
from kmslab.kms._responses import b64
from kmslab.kms._specs import ENCAPSULATE_DECAPSULATE, KEY_AGREEMENT, SPECS
from kmslab.kms.errors import InvalidKeyUsageException
from kmslab.kms.ops.crypto import current_backing, no_recipient, require_usage
from kmslab.kms.ops.grants import check_tokens


def _key_for(ctx: RequestContext, p: Mapping[str, Any], operation: str, usage: str, context: dict[str, Any]) -> Key:
    key, alias = ctx.resolve(p["KeyId"])
    ctx.authorize(
        f"kms:{operation}",
        key,
        request_alias=alias,
        grant_tokens=check_tokens(ctx.registry, p.get("GrantTokens", ())),
        context=context,
    )
    ctx.check_state(operation, key)
    require_usage(key, usage, operation)
    return key


def derive_shared_secret(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """DeriveSharedSecret: ECDH between the KMS key's private key and a peer's public key."""
    no_recipient(p)
    algorithm = p["KeyAgreementAlgorithm"]
    key = _key_for(ctx, p, "DeriveSharedSecret", KEY_AGREEMENT, {"kms:KeyAgreementAlgorithm": algorithm})
    if algorithm not in SPECS[key.key_spec].agreement:
        raise InvalidKeyUsageException(f"Algorithm {algorithm} is incompatible with key spec {key.key_spec}.")
    material = current_backing(key).material
    assert material is not None
    secret = _crypto.derive_shared_secret(material, key.key_spec, p["PublicKey"])
    ctx.dry_run(p)
    return {
        "KeyId": key.arn,
        "SharedSecret": b64(secret),
        "KeyAgreementAlgorithm": algorithm,
        "KeyOrigin": key.origin,
    }


def _mlkem_key(ctx: RequestContext, p: Mapping[str, Any], operation: str) -> tuple[Key, bytes]:
    algorithm = p["EncapsulationAlgorithm"]
    key = _key_for(ctx, p, operation, ENCAPSULATE_DECAPSULATE, {"kms:EncapsulationAlgorithm": algorithm})
    if algorithm not in SPECS[key.key_spec].encapsulation:
        raise InvalidKeyUsageException(f"Algorithm {algorithm} is incompatible with key spec {key.key_spec}.")
    ctx.dry_run(p)
    material = current_backing(key).material
    assert material is not None
    return key, material


def encapsulate(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """Encapsulate: a fresh shared secret and its ML-KEM ciphertext under the key's public key."""
    key, material = _mlkem_key(ctx, p, "Encapsulate")
    secret, ciphertext = _crypto.encapsulate(material)
    return {
        "KeyId": key.arn,
        "SharedSecret": b64(secret),
        "SharedSecretCiphertextBlob": b64(ciphertext),
        "EncapsulationAlgorithm": p["EncapsulationAlgorithm"],
    }


def decapsulate(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """Decapsulate: the shared secret inside an ML-KEM ciphertext (InvalidCiphertextException if malformed)."""
    key, material = _mlkem_key(ctx, p, "Decapsulate")
    secret = _crypto.decapsulate(material, p["SharedSecretCiphertextBlob"])
    return {"KeyId": key.arn, "SharedSecret": b64(secret), "EncapsulationAlgorithm": p["EncapsulationAlgorithm"]}
