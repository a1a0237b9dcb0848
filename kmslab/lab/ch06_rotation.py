"""Chapter 6 of the lab (``workshop/06-rotation.md``): automatic and on-demand rotation, backing keys, old ciphertexts.

Decrypt answers with the ``KeyMaterialId`` that decrypted, so the lab shows which backing key each
ciphertext uses without ever seeing key material.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from kmslab.lab._steps import Fact, LabContext, Step, show_refusal

PERIOD_DAYS = 90
MESSAGE = b"contract v1, signed"
CONTEXT = {"purpose": "rotation-lab"}


def _material(ctx: LabContext, blob: bytes) -> str:
    out = ctx.kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)
    ctx.expect(out["Plaintext"] == MESSAGE, "the ciphertext decrypts to the original")
    return str(out["KeyMaterialId"])


def _rotations(ctx: LabContext) -> list[dict[str, Any]]:
    rotations: list[dict[str, Any]] = ctx.kms.list_key_rotations(KeyId=ctx.need("rotation_key"))["Rotations"]
    return rotations


def enable_rotation(ctx: LabContext) -> Sequence[Fact]:
    """Create a key, turn on automatic rotation every 90 days, encrypt."""
    meta = ctx.kms.create_key(Description="kmslab lab: rotation")["KeyMetadata"]
    key = meta["KeyId"]
    ctx.state["rotation_key"] = key
    ctx.kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=PERIOD_DAYS)
    status = ctx.kms.get_key_rotation_status(KeyId=key)
    now = ctx.control.now()
    ctx.expect(status["KeyRotationEnabled"] is True, "rotation is on")
    ctx.expect(status["RotationPeriodInDays"] == PERIOD_DAYS, f"the period is {PERIOD_DAYS} days")
    ahead = status["NextRotationDate"] - now
    ctx.expect(
        timedelta(days=PERIOD_DAYS - 1) < ahead <= timedelta(days=PERIOD_DAYS, minutes=5),
        f"NextRotationDate is {PERIOD_DAYS} days ahead, got {ahead}",
    )
    blob = ctx.kms.encrypt(KeyId=key, Plaintext=MESSAGE, EncryptionContext=CONTEXT)["CiphertextBlob"]
    first = _material(ctx, blob)
    current = ctx.kms.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"]
    ctx.expect(first == current, "the ciphertext uses the key's current backing key")
    ctx.expect(_rotations(ctx) == [], "no rotation yet")
    ctx.state.update(rotation_blob=blob, rotation_first=first, rotation_next=status["NextRotationDate"])
    return [
        ("KeyId", key),
        (
            "KeyRotationEnabled / RotationPeriodInDays",
            f"{status['KeyRotationEnabled']} / {status['RotationPeriodInDays']}",
        ),
        ("NextRotationDate", status["NextRotationDate"].isoformat(timespec="seconds")),
        ("ciphertext A", f"decrypts with KeyMaterialId {first[:16]}... (the current one)"),
    ]


def automatic_rotation(ctx: LabContext) -> Sequence[Fact]:
    """Move the clock past NextRotationDate: an AUTOMATIC rotation appears."""
    key = ctx.need("rotation_key")
    delta = ctx.need("rotation_next") - ctx.control.now() + timedelta(days=1)
    now = ctx.advance_clock(delta)
    rotations = _rotations(ctx)
    ctx.expect([r["RotationType"] for r in rotations] == ["AUTOMATIC"], f"one AUTOMATIC rotation, got {rotations}")
    entry = rotations[0]
    meta = ctx.kms.describe_key(KeyId=key)["KeyMetadata"]
    ctx.expect(meta["KeyId"] == key, "the key keeps its ID")
    ctx.expect(entry["KeyMaterialId"] != ctx.need("rotation_first"), "the rotation made a new backing key")
    ctx.expect(meta["CurrentKeyMaterialId"] == entry["KeyMaterialId"], "the new backing key is now current")
    status = ctx.kms.get_key_rotation_status(KeyId=key)
    gap = status["NextRotationDate"] - entry["RotationDate"]
    ctx.expect(
        timedelta(days=PERIOD_DAYS - 1) < gap <= timedelta(days=PERIOD_DAYS, minutes=5),
        f"the next rotation is {PERIOD_DAYS} days after this one, got {gap}",
    )
    ctx.state["rotation_second"] = entry["KeyMaterialId"]
    return [
        ("clock moved to", now),
        ("ListKeyRotations", f"{entry['RotationType']} at {entry['RotationDate'].isoformat(timespec='seconds')}"),
        ("new KeyMaterialId", f"{entry['KeyMaterialId'][:16]}... (now current)"),
        ("NextRotationDate", status["NextRotationDate"].isoformat(timespec="seconds")),
    ]


def old_and_new(ctx: LabContext) -> Sequence[Fact]:
    """The old ciphertext decrypts with the old backing key; a new one uses the new backing key."""
    key = ctx.need("rotation_key")
    old = _material(ctx, ctx.need("rotation_blob"))
    ctx.expect(old == ctx.need("rotation_first"), "ciphertext A still decrypts with its original backing key")
    blob = ctx.kms.encrypt(KeyId=key, Plaintext=MESSAGE, EncryptionContext=CONTEXT)["CiphertextBlob"]
    new = _material(ctx, blob)
    ctx.expect(new == ctx.need("rotation_second"), "a new ciphertext uses the new backing key")
    return [
        ("ciphertext A (before rotation)", f"decrypts, KeyMaterialId {old[:16]}... (the old one)"),
        ("ciphertext B (after rotation)", f"decrypts, KeyMaterialId {new[:16]}... (the new one)"),
    ]


def on_demand(ctx: LabContext) -> Sequence[Fact]:
    """RotateKeyOnDemand adds an ON_DEMAND entry and does not change the schedule."""
    key = ctx.need("rotation_key")
    before = ctx.kms.get_key_rotation_status(KeyId=key)["NextRotationDate"]
    ctx.kms.rotate_key_on_demand(KeyId=key)
    rotations = _rotations(ctx)
    types = [r["RotationType"] for r in rotations]
    ctx.expect(sorted(types) == ["AUTOMATIC", "ON_DEMAND"], f"AUTOMATIC and ON_DEMAND entries, got {types}")
    after = ctx.kms.get_key_rotation_status(KeyId=key)
    ctx.expect(after["NextRotationDate"] == before, "an on-demand rotation leaves the automatic schedule alone")
    ctx.expect(_material(ctx, ctx.need("rotation_blob")) == ctx.need("rotation_first"), "A still decrypts")
    return [
        *[
            (f"rotation {n}", f"{r['RotationType']} at {r['RotationDate'].isoformat(timespec='seconds')}")
            for n, r in enumerate(rotations, start=1)
        ],
        ("NextRotationDate", f"{after['NextRotationDate'].isoformat(timespec='seconds')} (unchanged)"),
    ]


def disabled_not_rotated(ctx: LabContext) -> Sequence[Fact]:
    """A disabled key misses its rotation date; it rotates once it is enabled again."""
    key = ctx.need("rotation_key")
    due = ctx.kms.get_key_rotation_status(KeyId=key)["NextRotationDate"]
    before = len(_rotations(ctx))
    ctx.kms.disable_key(KeyId=key)
    now = ctx.advance_clock(due - ctx.control.now() + timedelta(days=1))
    missed = len(_rotations(ctx))
    ctx.expect(missed == before, f"no rotation while the key is disabled, got {missed - before} new")
    ctx.kms.enable_key(KeyId=key)
    rotations = _rotations(ctx)
    ctx.expect(len(rotations) == before + 1, f"one rotation once the key is enabled, got {len(rotations) - before}")
    ctx.expect(rotations[-1]["RotationType"] == "AUTOMATIC", "it is an AUTOMATIC rotation")
    ctx.expect(_material(ctx, ctx.need("rotation_blob")) == ctx.need("rotation_first"), "A still decrypts")
    return [
        ("DisableKey, clock moved to", f"{now} (past {due.isoformat(timespec='seconds')})"),
        ("ListKeyRotations while disabled", f"{missed} entries (no new rotation)"),
        ("EnableKey, ListKeyRotations", f"{len(rotations)} entries, the newest AUTOMATIC"),
    ]


def asymmetric_refused(ctx: LabContext) -> Sequence[Fact]:
    """Rotation is refused on an asymmetric key (and on an HMAC key)."""
    rsa = ctx.kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    hmac = ctx.kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    automatic = ctx.expect_error(lambda: ctx.kms.enable_key_rotation(KeyId=rsa), "UnsupportedOperationException")
    manual = ctx.expect_error(lambda: ctx.kms.rotate_key_on_demand(KeyId=rsa), "UnsupportedOperationException")
    hmac_refused = ctx.expect_error(lambda: ctx.kms.enable_key_rotation(KeyId=hmac), "UnsupportedOperationException")
    return [
        ("RSA_2048 EnableKeyRotation", show_refusal(automatic)),
        ("RSA_2048 RotateKeyOnDemand", show_refusal(manual)),
        ("HMAC_256 EnableKeyRotation", show_refusal(hmac_refused)),
    ]


STEPS: tuple[Step, ...] = (
    Step(
        f"Turn on automatic rotation every {PERIOD_DAYS} days and encrypt",
        "EnableKeyRotation sets the period; GetKeyRotationStatus shows when the next rotation is due.",
        enable_rotation,
    ),
    Step(
        "Move the clock past NextRotationDate",
        "KMS rotates on schedule: ListKeyRotations shows an AUTOMATIC entry with a new backing key; "
        "the key ID stays the same.",
        automatic_rotation,
    ),
    Step(
        "Decrypt the old ciphertext and encrypt anew",
        "Old backing keys are kept: the old ciphertext still decrypts; new ciphertexts use the new backing key.",
        old_and_new,
    ),
    Step(
        "Rotate on demand",
        "RotateKeyOnDemand adds an ON_DEMAND entry next to the AUTOMATIC one.",
        on_demand,
    ),
    Step(
        "Disable the key over its rotation date, then enable it",
        "A disabled key is not rotated; once it is enabled again the missed rotation happens.",
        disabled_not_rotated,
    ),
    Step(
        "Try to rotate an asymmetric key and an HMAC key",
        "Only symmetric encryption keys rotate: KMS answers UnsupportedOperationException.",
        asymmetric_refused,
    ),
)
