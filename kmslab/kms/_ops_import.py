"""Imported key material (Origin EXTERNAL): GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial.

The import token is self-contained and opaque: ``b"KLIT1" + nonce + AES-256-GCM(JSON)``
under a key derived from the root key. The JSON names the region, key ID, wrapping
algorithm, expiry and the wrapping private key, so nothing is stored between the two
calls and a token for another key, a forged token or an expired one is refused.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kmslab.kms._context import RequestContext, b64, ts
from kmslab.kms._crypto import aesgcm, rsa_oaep_unwrap
from kmslab.kms._keys import BackingKey, Key
from kmslab.kms._ops_keys import new_material_id
from kmslab.kms._specs import SPECS
from kmslab.kms.errors import (
    ExpiredImportTokenException,
    IncorrectKeyMaterialException,
    InvalidCiphertextException,
    InvalidImportTokenException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)

_TOKEN_MAGIC = b"KLIT1"
_TOKEN_AAD = b"kmslab-import-token"
_WRAPPING = frozenset({"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"})
TOKEN_LIFETIME = timedelta(hours=24)
MAX_VALID_TO = timedelta(days=365)


_WRAPPING_REUSE_SECONDS = 300.0
_wrapping_keys: dict[str, tuple[float, rsa.RSAPrivateKey]] = {}
_wrapping_lock = threading.Lock()


def _wrapping_key(spec: str) -> rsa.RSAPrivateKey:
    """Return an RSA wrapping key pair for a WrappingKeySpec.

    RSA key generation costs 0.1-2 s, so one pair per spec is reused for up to five
    minutes of wall-clock time; each import token still binds it to one key and expires.
    """
    with _wrapping_lock:
        now = time.monotonic()
        cached = _wrapping_keys.get(spec)
        if cached is not None and now - cached[0] < _WRAPPING_REUSE_SECONDS:
            return cached[1]
        private = rsa.generate_private_key(public_exponent=65537, key_size=int(spec.split("_")[1]))
        _wrapping_keys[spec] = (now, private)
        return private


def _external(key: Key) -> None:
    if key.origin != "EXTERNAL":
        raise UnsupportedOperationException(f"{key.arn} origin is {key.origin} which is not valid for this operation.")


def get_parameters_for_import(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """GetParametersForImport: an RSA wrapping public key and a 24-hour import token."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    algorithm, spec = p["WrappingAlgorithm"], p["WrappingKeySpec"]
    ctx.authorize(
        "kms:GetParametersForImport",
        key,
        context={"kms:WrappingAlgorithm": algorithm, "kms:WrappingKeySpec": spec},
    )
    _external(key)
    ctx.check_state("GetParametersForImport", key)
    if algorithm not in _WRAPPING:
        raise ValidationException(f"WrappingAlgorithm {algorithm} is not supported.")
    if spec not in ("RSA_2048", "RSA_3072", "RSA_4096"):
        raise ValidationException(f"WrappingKeySpec {spec} is not supported.")
    private = _wrapping_key(spec)
    valid_to = ctx.now + TOKEN_LIFETIME
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    payload = json.dumps(
        {"r": key.region, "k": key.key_id, "a": algorithm, "v": valid_to.timestamp(), "p": b64(der)}
    ).encode()
    nonce = os.urandom(12)
    token = _TOKEN_MAGIC + nonce + aesgcm(ctx.kms._import_token_key).encrypt(nonce, payload, _TOKEN_AAD)
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"KeyId": key.arn, "ImportToken": b64(token), "PublicKey": b64(public), "ParametersValidTo": ts(valid_to)}


def _open_token(ctx: RequestContext, key: Key, token: bytes) -> tuple[str, rsa.RSAPrivateKey]:
    if not token.startswith(_TOKEN_MAGIC) or len(token) < len(_TOKEN_MAGIC) + 12 + 16:
        raise InvalidImportTokenException("The import token is not valid.")
    start = len(_TOKEN_MAGIC)
    try:
        payload = json.loads(
            aesgcm(ctx.kms._import_token_key).decrypt(token[start : start + 12], token[start + 12 :], _TOKEN_AAD)
        )
    except (InvalidTag, ValueError):
        raise InvalidImportTokenException("The import token is not valid.") from None
    if payload["r"] != key.region or payload["k"] != key.key_id:
        raise InvalidImportTokenException("The import token was issued for a different KMS key.")
    if ctx.now > datetime.fromtimestamp(payload["v"], UTC):
        raise ExpiredImportTokenException("The import token has expired.")
    private = serialization.load_der_private_key(base64.b64decode(payload["p"]), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return str(payload["a"]), private


def _check_expiration(ctx: RequestContext, p: dict[str, Any]) -> tuple[str, datetime | None]:
    model = p.get("ExpirationModel") or "KEY_MATERIAL_EXPIRES"
    valid_to: datetime | None = p.get("ValidTo")
    if model == "KEY_MATERIAL_EXPIRES":
        if valid_to is None:
            raise ValidationException("A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
        if valid_to <= ctx.now or valid_to > ctx.now + MAX_VALID_TO:
            raise ValidationException("The validTo date must be in the future and at most 365 days from now.")
    elif valid_to is not None:
        raise ValidationException(
            "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE"
        )
    return model, valid_to


def _check_length(key: Key, material: bytes) -> None:
    info = SPECS[key.key_spec]
    if key.key_spec == "SYMMETRIC_DEFAULT":
        ok = len(material) == 32
    else:
        ok = info.size <= len(material) <= 64 * (2 if info.size > 32 else 1)
    if not ok:
        raise ValidationException(
            f"The imported key material has a length of {len(material)} bytes, which is not "
            f"valid for KeySpec {key.key_spec}."
        )


def import_key_material(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """ImportKeyMaterial (re-importing the same material restores the key; other material is refused)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    model, valid_to = p.get("ExpirationModel") or "KEY_MATERIAL_EXPIRES", p.get("ValidTo")
    ctx.authorize(
        "kms:ImportKeyMaterial",
        key,
        context={"kms:ExpirationModel": model, **({"kms:ValidTo": valid_to.timestamp()} if valid_to else {})},
    )
    _external(key)
    ctx.check_state("ImportKeyMaterial", key)
    if p.get("ImportType") == "NEW_KEY_MATERIAL":
        raise UnsupportedOperationException(
            "Importing new key material for rotation is not supported by the local KMS."
        )
    model, valid_to = _check_expiration(ctx, p)
    algorithm, private = _open_token(ctx, key, p["ImportToken"])
    try:
        material = rsa_oaep_unwrap(private, algorithm, p["EncryptedKeyMaterial"])
    except ValueError:
        raise InvalidCiphertextException(
            "The encrypted key material could not be decrypted with the wrapping key of the import token."
        ) from None
    _check_length(key, material)
    fingerprint = hmac.new(ctx.kms._import_token_key, b"fingerprint|" + material, "sha256").hexdigest()
    if key.import_fingerprint is not None and not hmac.compare_digest(key.import_fingerprint, fingerprint):
        raise IncorrectKeyMaterialException(
            "The key material doesn't match the key material that was previously imported into this KMS key."
        )
    if not key.backing:
        key.backing.append(BackingKey(new_material_id(), material, ctx.now, None, model, valid_to))
        key.import_fingerprint = fingerprint
    else:
        current = key.backing[-1]
        current.material, current.expiration_model, current.valid_to = material, model, valid_to
    if key.state == "PendingImport":
        key.state = "Enabled"
    ctx.save(key)
    return {"KeyId": key.arn, "KeyMaterialId": key.backing[-1].material_id}


def delete_imported_key_material(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteImportedKeyMaterial: the key goes back to PendingImport."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:DeleteImportedKeyMaterial", key)
    _external(key)
    ctx.check_state("DeleteImportedKeyMaterial", key)
    wanted = p.get("KeyMaterialId")
    if wanted is not None and key.backing_by_id(wanted) is None:
        raise NotFoundException(f"Key material {wanted} does not exist for {key.arn}")
    for backing in key.backing:
        backing.material, backing.expiration_model, backing.valid_to = None, None, None
    if key.state in ("Enabled", "Disabled"):
        key.state = "PendingImport"
    ctx.save(key)
    out: dict[str, Any] = {"KeyId": key.arn}
    if key.backing:
        out["KeyMaterialId"] = key.backing[-1].material_id
    return out


OPS = {
    "GetParametersForImport": get_parameters_for_import,
    "ImportKeyMaterial": import_key_material,
    "DeleteImportedKeyMaterial": delete_imported_key_material,
}
