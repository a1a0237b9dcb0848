"""Chapter 7 of the lab (``workshop/07-import.md``): imported key material, wrapped with RSA-OAEP-SHA256.

The lab plays the customer's side: it generates 32 random bytes, wraps them with the public wrapping
key from GetParametersForImport and imports them. The material lives only in memory, never printed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kmslab.lab._steps import Fact, LabContext, Step, show_blob, show_refusal

WRAPPING_ALGORITHM = "RSAES_OAEP_SHA_256"
WRAPPING_KEY_SPEC = "RSA_2048"  # RSA_4096 works the same; 2048 keeps the lab quick
VALID_DAYS = 2
MESSAGE = b"customer ledger, Q1"


@dataclass(frozen=True)
class _Material:
    """Key material the lab generated, kept out of every repr."""

    value: bytes = field(repr=False)


def _wrap(ctx: LabContext, material: _Material) -> tuple[bytes, bytes, datetime]:
    """Get fresh import parameters and wrap the material; return (wrapped, token, ParametersValidTo)."""
    params = ctx.kms.get_parameters_for_import(
        KeyId=ctx.need("import_key"), WrappingAlgorithm=WRAPPING_ALGORITHM, WrappingKeySpec=WRAPPING_KEY_SPEC
    )
    public = serialization.load_der_public_key(params["PublicKey"])
    if not isinstance(public, rsa.RSAPublicKey):
        raise TypeError("the wrapping key is not an RSA public key")
    wrapped = public.encrypt(
        material.value,
        padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    ctx.state["import_wrapping_bits"] = public.key_size
    return wrapped, params["ImportToken"], params["ParametersValidTo"]


def _import(ctx: LabContext, material: _Material) -> str:
    wrapped, token, _ = _wrap(ctx, material)
    valid_to = ctx.control.now() + timedelta(days=VALID_DAYS)
    ctx.kms.import_key_material(
        KeyId=ctx.need("import_key"),
        ImportToken=token,
        EncryptedKeyMaterial=wrapped,
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=valid_to,
    )
    return str(valid_to.isoformat(timespec="seconds"))


def create_external(ctx: LabContext) -> Sequence[Fact]:
    """Create a key without material."""
    meta = ctx.kms.create_key(Origin="EXTERNAL", Description="kmslab lab: imported material")["KeyMetadata"]
    ctx.state["import_key"] = meta["KeyId"]
    ctx.expect(meta["Origin"] == "EXTERNAL", f"Origin is EXTERNAL, got {meta['Origin']}")
    ctx.expect(meta["KeyState"] == "PendingImport", f"the key waits for material, got {meta['KeyState']}")
    refused = ctx.expect_error(
        lambda: ctx.kms.encrypt(KeyId=meta["KeyId"], Plaintext=MESSAGE),
        "KMSInvalidStateException",
        message_contains="is pending import",
    )
    return [
        ("KeyId", meta["KeyId"]),
        ("Origin / KeyState", f"{meta['Origin']} / {meta['KeyState']}"),
        ("Encrypt", show_refusal(refused)),
    ]


def get_parameters(ctx: LabContext) -> Sequence[Fact]:
    """Get a wrapping key and an import token; wrap 32 random bytes with RSA-OAEP-SHA256."""
    material = _Material(os.urandom(32))
    ctx.state["import_material"] = material
    wrapped, token, valid_until = _wrap(ctx, material)
    lifetime = valid_until - ctx.control.now()
    ctx.expect(
        timedelta(hours=23) < lifetime <= timedelta(hours=24), f"the parameters are valid for 24 hours, got {lifetime}"
    )
    bits = ctx.state["import_wrapping_bits"]
    ctx.expect(bits == 2048, f"the wrapping key is RSA_2048, got {bits} bits")
    ctx.expect(len(wrapped) == bits // 8, "RSA-OAEP output is one modulus long")
    return [
        ("wrapping key", f"RSA {bits}-bit public key ({WRAPPING_ALGORITHM})"),
        ("ImportToken", f"{len(token)} bytes (opaque)"),
        ("ParametersValidTo", f"{valid_until.isoformat(timespec='seconds')} (24 hours)"),
        ("key material", "32 random bytes, generated here, never printed"),
        ("wrapped material", show_blob(wrapped)),
    ]


def import_material(ctx: LabContext) -> Sequence[Fact]:
    """Import with an expiry; the key is Enabled and encrypts."""
    key = ctx.need("import_key")
    valid_to = _import(ctx, ctx.need("import_material"))
    meta = ctx.kms.describe_key(KeyId=key)["KeyMetadata"]
    ctx.expect(meta["KeyState"] == "Enabled", f"the key is Enabled, got {meta['KeyState']}")
    ctx.expect(meta.get("ExpirationModel") == "KEY_MATERIAL_EXPIRES", "the material expires")
    ctx.expect(meta["ValidTo"].isoformat(timespec="seconds") == valid_to, f"ValidTo is {valid_to}")
    blob = ctx.kms.encrypt(KeyId=key, Plaintext=MESSAGE)["CiphertextBlob"]
    ctx.state["import_blob"] = blob
    return [
        ("KeyState", meta["KeyState"]),
        ("ExpirationModel / ValidTo", f"{meta['ExpirationModel']} / {valid_to}"),
        ("Encrypt", f"CiphertextBlob {show_blob(blob)}"),
    ]


def expiry(ctx: LabContext) -> Sequence[Fact]:
    """Move the clock past ValidTo: the material is gone, the key is PendingImport again."""
    key = ctx.need("import_key")
    now = ctx.advance_clock(timedelta(days=VALID_DAYS + 1))
    meta = ctx.kms.describe_key(KeyId=key)["KeyMetadata"]
    ctx.expect(meta["KeyState"] == "PendingImport", f"expired material leaves PendingImport, got {meta['KeyState']}")
    refused = ctx.expect_error(
        lambda: ctx.kms.decrypt(CiphertextBlob=ctx.need("import_blob")),
        "KMSInvalidStateException",
        message_contains="is pending import",
    )
    return [("clock moved to", now), ("KeyState", meta["KeyState"]), ("Decrypt", show_refusal(refused))]


def reimport_same(ctx: LabContext) -> Sequence[Fact]:
    """Import the same material again; the old ciphertext decrypts."""
    key = ctx.need("import_key")
    valid_to = _import(ctx, ctx.need("import_material"))
    meta = ctx.kms.describe_key(KeyId=key)["KeyMetadata"]
    ctx.expect(meta["KeyState"] == "Enabled", f"the key is Enabled again, got {meta['KeyState']}")
    out = ctx.kms.decrypt(CiphertextBlob=ctx.need("import_blob"))
    ctx.expect(out["Plaintext"] == MESSAGE, "the ciphertext made before the expiry decrypts")
    return [
        ("ImportKeyMaterial", f"the same 32 bytes, ValidTo {valid_to}"),
        ("KeyState", meta["KeyState"]),
        ("Decrypt (old ciphertext)", "Plaintext matches"),
    ]


def different_refused(ctx: LabContext) -> Sequence[Fact]:
    """Import different material: refused. Automatic rotation: refused."""
    key = ctx.need("import_key")
    other = _Material(os.urandom(32))
    refused = ctx.expect_error(lambda: _import(ctx, other), "IncorrectKeyMaterialException")
    rotation = ctx.expect_error(lambda: ctx.kms.enable_key_rotation(KeyId=key), "UnsupportedOperationException")
    out = ctx.kms.decrypt(CiphertextBlob=ctx.need("import_blob"))
    ctx.expect(out["Plaintext"] == MESSAGE, "the key still works with its own material")
    return [
        ("ImportKeyMaterial (other bytes)", show_refusal(refused)),
        ("EnableKeyRotation", show_refusal(rotation)),
    ]


STEPS: tuple[Step, ...] = (
    Step(
        "Create a key with Origin EXTERNAL",
        "A key for imported material starts in PendingImport and can do nothing cryptographic.",
        create_external,
    ),
    Step(
        "Get import parameters and wrap 32 random bytes",
        f"GetParametersForImport gives an RSA wrapping key and an import token; the material is wrapped "
        f"locally with {WRAPPING_ALGORITHM}.",
        get_parameters,
    ),
    Step(
        f"Import the material, valid for {VALID_DAYS} days",
        "ImportKeyMaterial with KEY_MATERIAL_EXPIRES and ValidTo makes the key Enabled.",
        import_material,
    ),
    Step(
        "Move the clock past ValidTo",
        "Expired material is deleted: the key returns to PendingImport and its ciphertexts cannot be decrypted.",
        expiry,
    ),
    Step(
        "Import the same material again",
        "Re-importing the same bytes brings every ciphertext back.",
        reimport_same,
    ),
    Step(
        "Try to import different material",
        "KMS refuses other material for the key (IncorrectKeyMaterialException); automatic rotation is "
        "not available for imported material.",
        different_refused,
    ),
)
