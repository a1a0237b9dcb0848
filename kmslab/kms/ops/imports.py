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

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kmslab.kms._context import RequestContext
from kmslab.kms._crypto import CURVES, aesgcm, rsa_oaep_unwrap
from kmslab.kms._records import BackingKey, Key
from kmslab.kms._responses import b64, ts
from kmslab.kms._specs import NOT_EMULATED, SPECS
from kmslab.kms.errors import (
    ExpiredImportTokenException,
    IncorrectKeyMaterialException,
    InvalidCiphertextException,
    InvalidImportTokenException,
    KMSInvalidStateException,
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
    if algorithm == "SM2PKE" or spec == "SM2":
        raise UnsupportedOperationException(NOT_EMULATED["SM2"])
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
    token = _TOKEN_MAGIC + nonce + aesgcm(ctx.registry.import_token_key).encrypt(nonce, payload, _TOKEN_AAD)
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
            aesgcm(ctx.registry.import_token_key).decrypt(token[start : start + 12], token[start + 12 :], _TOKEN_AAD)
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


def _check_material(key: Key, material: bytes) -> bytes:
    """Check imported material against the key spec; return it in canonical form.

    Symmetric keys take 32 bytes, HMAC keys a length in AWS's range for the spec, asymmetric keys a
    PKCS #8 DER private key of the key's type and size (re-encoded, so one key has one identifier).
    """
    info = SPECS[key.key_spec]
    if info.family in ("symmetric", "hmac"):
        ok = (
            len(material) == 32
            if info.family == "symmetric"
            else info.size <= len(material) <= 64 * (2 if info.size > 32 else 1)
        )
        if not ok:
            raise ValidationException(
                f"The imported key material has a length of {len(material)} bytes, which is not "
                f"valid for KeySpec {key.key_spec}."
            )
        return material
    try:
        private = serialization.load_der_private_key(material, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        private = None
    if info.family == "rsa":
        ok = isinstance(private, rsa.RSAPrivateKey) and private.key_size == info.size
    else:
        ok = isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(private.curve, CURVES[key.key_spec])
    if not ok or private is None:
        raise ValidationException(f"The imported key material is not a PKCS #8 DER private key for {key.key_spec}.")
    der: bytes = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return der


def material_identifier(ctx: RequestContext, key: Key, material: bytes) -> str:
    """Return the KeyMaterialId of imported material: derived from the key ID and the material, as AWS does.

    Args:
        ctx: the request.
        key: the key (replicas share the key ID, so the same material has the same ID in every region).
        material: the key material.

    Returns:
        64 hex characters.
    """
    return hmac.new(
        ctx.registry.import_token_key, b"key-material|" + key.key_id.encode() + b"|" + material, "sha256"
    ).hexdigest()


def _existing_target(ctx: RequestContext, key: Key, material: bytes, material_id: str) -> BackingKey:
    target = key.backing_by_id(material_id)
    if target is None and key.import_fingerprint is not None and key.backing:
        # Material imported before identifiers were derived from it: the key's one fingerprint.
        legacy = hmac.new(ctx.registry.import_token_key, b"fingerprint|" + material, "sha256").hexdigest()
        if hmac.compare_digest(key.import_fingerprint, legacy):
            target = key.backing[0]
    if target is None:
        raise IncorrectKeyMaterialException(
            "The key material doesn't match the key material that was previously imported into this KMS key."
        )
    return target


def _import_new(ctx: RequestContext, key: Key, entry: BackingKey) -> None:
    """Add new material: the first material of a key, or material pending an on-demand rotation."""
    if not key.backing:
        key.backing.append(entry)
        return
    if key.key_spec != "SYMMETRIC_DEFAULT":
        raise UnsupportedOperationException(
            f"{key.arn} key spec {key.key_spec} cannot take new key material after the first import."
        )
    if key.is_replica:
        raise UnsupportedOperationException(
            f"{key.arn} is a multi-Region replica key. Import new key material into the primary key, then the "
            "same material into each replica with ImportType EXISTING_KEY_MATERIAL."
        )
    if key.backing_by_id(entry.material_id) is not None:
        raise IncorrectKeyMaterialException(
            "This key material is already associated with the KMS key; reimport it with ImportType "
            "EXISTING_KEY_MATERIAL."
        )
    if any(item.pending for item in key.backing):
        raise KMSInvalidStateException(
            f"{key.arn} already has key material pending rotation. Rotate the key or delete that material first."
        )
    entry.pending = True
    key.backing.append(entry)
    for region in key.replica_regions:  # each replica awaits the same material (EXISTING_KEY_MATERIAL)
        replica = ctx.registry.key(region, key.key_id)
        if replica is not None:
            replica.backing.append(BackingKey(entry.material_id, None, ctx.now, pending=True))
            ctx.save(replica)


def import_key_material(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """ImportKeyMaterial: first import, reimport (EXISTING_KEY_MATERIAL) or new material for rotation."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    model, valid_to = p.get("ExpirationModel") or "KEY_MATERIAL_EXPIRES", p.get("ValidTo")
    ctx.authorize(
        "kms:ImportKeyMaterial",
        key,
        context={"kms:ExpirationModel": model, **({"kms:ValidTo": valid_to.timestamp()} if valid_to else {})},
    )
    _external(key)
    ctx.check_state("ImportKeyMaterial", key)
    symmetric = key.key_spec == "SYMMETRIC_DEFAULT"
    import_type = p.get("ImportType") or ("EXISTING_KEY_MATERIAL" if key.backing else "NEW_KEY_MATERIAL")
    wanted_id = p.get("KeyMaterialId")
    if not symmetric and (wanted_id is not None or p.get("KeyMaterialDescription") is not None):
        raise ValidationException("KeyMaterialId and KeyMaterialDescription are valid only for symmetric keys.")
    if wanted_id is not None and import_type == "NEW_KEY_MATERIAL":
        raise ValidationException("You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL.")
    model, valid_to = _check_expiration(ctx, p)
    algorithm, private = _open_token(ctx, key, p["ImportToken"])
    try:
        material = rsa_oaep_unwrap(private, algorithm, p["EncryptedKeyMaterial"])
    except ValueError:
        raise InvalidCiphertextException(
            "The encrypted key material could not be decrypted with the wrapping key of the import token."
        ) from None
    material = _check_material(key, material)
    material_id = material_identifier(ctx, key, material)
    description = p.get("KeyMaterialDescription")
    if import_type == "NEW_KEY_MATERIAL":
        entry = BackingKey(material_id, material, ctx.now, None, model, valid_to, description)
        _import_new(ctx, key, entry)
    else:
        if not key.backing:
            raise IncorrectKeyMaterialException(f"No key material was previously imported into {key.arn}.")
        entry = _existing_target(ctx, key, material, material_id)
        if wanted_id is not None and wanted_id != entry.material_id:
            raise IncorrectKeyMaterialException(
                f"The key material does not match the key material ID {wanted_id} of {key.arn}."
            )
        entry.material, entry.expiration_model, entry.valid_to = material, model, valid_to
        if description is not None:
            entry.description = description
    if key.state == "PendingImport" and key.all_imported:
        key.state = "Enabled"
    ctx.save(key)
    return {"KeyId": key.arn, "KeyMaterialId": entry.material_id}


def delete_imported_key_material(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteImportedKeyMaterial: one material (KeyMaterialId, default the current one).

    Deleting material the key uses puts it in PendingImport (a key pending deletion keeps its state);
    deleting material that is only pending rotation just drops it.
    """
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:DeleteImportedKeyMaterial", key)
    _external(key)
    ctx.check_state("DeleteImportedKeyMaterial", key)
    wanted = p.get("KeyMaterialId")
    target = key.current_entry if wanted is None else key.backing_by_id(wanted)
    if target is None:
        if wanted is not None:
            raise NotFoundException(f"Key material {wanted} does not exist for {key.arn}")
        return {"KeyId": key.arn}
    if target.pending and not key.is_replica:
        # Pending material is not yet part of the key: it goes, here and in the replicas that await it.
        for owner in [key, *(ctx.registry.key(r, key.key_id) for r in key.replica_regions)]:
            if owner is not None:
                owner.backing = [item for item in owner.backing if item.material_id != target.material_id]
                ctx.save(owner)
        return {"KeyId": key.arn, "KeyMaterialId": target.material_id}
    target.material, target.expiration_model, target.valid_to = None, None, None
    if key.state in ("Enabled", "Disabled") and not target.pending:
        key.state = "PendingImport"
    ctx.save(key)
    return {"KeyId": key.arn, "KeyMaterialId": target.material_id}
