"""Operations with signing, HMAC and asymmetric keys: Sign, Verify, GenerateMac, VerifyMac, GetPublicKey."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from kmslab.kms import _crypto
from kmslab.kms._context import RequestContext
from kmslab.kms._records import Key
from kmslab.kms._responses import b64
from kmslab.kms._specs import ASYMMETRIC_FAMILIES, SPECS
from kmslab.kms.errors import InvalidKeyUsageException, KMSInvalidMacException, UnsupportedOperationException
from kmslab.kms.ops.crypto import current_backing, require_usage
from kmslab.kms.ops.grants import check_tokens


def _signing_key(ctx: RequestContext, p: Mapping[str, Any], operation: str) -> tuple[Key, str, str]:
    key, alias = ctx.resolve(p["KeyId"])
    algorithm = p["SigningAlgorithm"]
    message_type = p.get("MessageType") or "RAW"
    ctx.authorize(
        f"kms:{operation}",
        key,
        request_alias=alias,
        grant_tokens=check_tokens(ctx.registry, p.get("GrantTokens", ())),
        context={"kms:SigningAlgorithm": algorithm, "kms:MessageType": message_type},
    )
    ctx.check_state(operation, key)
    require_usage(key, "SIGN_VERIFY", operation)
    if algorithm not in SPECS[key.key_spec].signing:
        raise InvalidKeyUsageException(f"Algorithm {algorithm} is incompatible with key spec {key.key_spec}.")
    _crypto.check_message_type(key.key_spec, algorithm, p["Message"], message_type)
    ctx.dry_run(p)
    return key, algorithm, message_type


def sign(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """Sign (RSASSA-PSS, RSASSA-PKCS1-v1_5, ECDSA, Ed25519, ML-DSA; RAW, DIGEST or EXTERNAL_MU)."""
    key, algorithm, message_type = _signing_key(ctx, p, "Sign")
    material = current_backing(key).material
    assert material is not None
    signature = _crypto.sign(material, key.key_spec, algorithm, p["Message"], message_type)
    return {"KeyId": key.arn, "Signature": b64(signature), "SigningAlgorithm": algorithm}


def verify(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """Verify (KMSInvalidSignatureException when the signature does not verify)."""
    key, algorithm, message_type = _signing_key(ctx, p, "Verify")
    material = current_backing(key).material
    assert material is not None
    _crypto.verify(material, key.key_spec, algorithm, p["Message"], message_type, p["Signature"])
    return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": algorithm}


def _mac_key(ctx: RequestContext, p: Mapping[str, Any], operation: str) -> tuple[Key, bytes]:
    key, alias = ctx.resolve(p["KeyId"])
    algorithm = p["MacAlgorithm"]
    ctx.authorize(
        f"kms:{operation}",
        key,
        request_alias=alias,
        grant_tokens=check_tokens(ctx.registry, p.get("GrantTokens", ())),
        context={"kms:MacAlgorithm": algorithm},
    )
    ctx.check_state(operation, key)
    require_usage(key, "GENERATE_VERIFY_MAC", operation)
    if algorithm not in SPECS[key.key_spec].mac:
        raise InvalidKeyUsageException(f"Algorithm {algorithm} is incompatible with key spec {key.key_spec}.")
    ctx.dry_run(p)
    material = current_backing(key).material
    assert material is not None
    return key, _crypto.mac(material, algorithm, p["Message"])


def generate_mac(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """GenerateMac: an HMAC tag of the message under an HMAC key."""
    key, tag = _mac_key(ctx, p, "GenerateMac")
    return {"Mac": b64(tag), "MacAlgorithm": p["MacAlgorithm"], "KeyId": key.arn}


def verify_mac(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """VerifyMac (KMSInvalidMacException when the tag does not match)."""
    key, tag = _mac_key(ctx, p, "VerifyMac")
    if not hmac.compare_digest(tag, p["Mac"]):
        raise KMSInvalidMacException("")
    return {"KeyId": key.arn, "MacValid": True, "MacAlgorithm": p["MacAlgorithm"]}


def get_public_key(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """GetPublicKey (asymmetric keys only)."""
    key, alias = ctx.resolve(p["KeyId"])
    ctx.authorize(
        "kms:GetPublicKey", key, request_alias=alias, grant_tokens=check_tokens(ctx.registry, p.get("GrantTokens", ()))
    )
    ctx.check_state("GetPublicKey", key)
    info = SPECS[key.key_spec]
    if info.family not in ASYMMETRIC_FAMILIES:
        raise UnsupportedOperationException(
            f"{key.arn} key spec {key.key_spec} is not valid for this operation. GetPublicKey requires an "
            "asymmetric KMS key."
        )
    material = current_backing(key).material
    assert material is not None
    return {
        "KeyId": key.arn,
        "PublicKey": b64(_crypto.public_der(material)),
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "KeyUsage": key.key_usage,
        **info.algorithms(key.key_usage),
    }
