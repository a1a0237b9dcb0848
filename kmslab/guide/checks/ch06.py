"""Chapter 6's checkpoint: the data key's rotation, the practice key's rotations, and an old ciphertext."""

from __future__ import annotations

from pathlib import Path

from kmslab.guide.checks._base import Chapter, CheckEnv, Finding

__all__ = ["CHAPTER", "PRACTICE_ALIAS", "PRACTICE_PERIOD_DAYS"]

_DATA_ALIAS = "alias/kmslab/data"
#: The key the page makes to practise on, and the period it sets.
PRACTICE_ALIAS = "alias/kmslab/rotation-practice"
PRACTICE_PERIOD_DAYS = 90
_OLD_CIPHERTEXT = "secret.before"


def _practice_arn(env: CheckEnv) -> str | None:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        return str(env.client("kms").describe_key(KeyId=PRACTICE_ALIAS)["KeyMetadata"]["Arn"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NotFoundException":
            return None
        raise


def _data_key_rotates(env: CheckEnv) -> Finding:
    """The data key rotates automatically."""
    text = "the data key rotates automatically"
    kms = env.client("kms")
    arn = kms.describe_key(KeyId=_DATA_ALIAS)["KeyMetadata"]["Arn"]
    if not kms.get_key_rotation_status(KeyId=arn)["KeyRotationEnabled"]:
        return Finding.missing(text, f"rotation was turned off: aws kms enable-key-rotation --key-id {arn}")
    return Finding.done(text)


def _practice_period(env: CheckEnv) -> Finding:
    """The practice key rotates automatically every 90 days."""
    text = f"{PRACTICE_ALIAS} rotates automatically every {PRACTICE_PERIOD_DAYS} days"
    arn = _practice_arn(env)
    if arn is None:
        return Finding.missing(text, "create the practice key and its alias (step 6.2)")
    status = env.client("kms").get_key_rotation_status(KeyId=arn)
    if not status["KeyRotationEnabled"] or status.get("RotationPeriodInDays") != PRACTICE_PERIOD_DAYS:
        return Finding.missing(
            text, f"aws kms enable-key-rotation --key-id {arn} --rotation-period-in-days {PRACTICE_PERIOD_DAYS}"
        )
    return Finding.done(text)


def _rotated_on_demand(env: CheckEnv) -> Finding:
    """The practice key has been rotated on demand."""
    text = f"{PRACTICE_ALIAS} has been rotated on demand"
    arn = _practice_arn(env)
    if arn is None:
        return Finding.missing(text, "create the practice key and its alias (step 6.2)")
    pages = env.client("kms").get_paginator("list_key_rotations").paginate(KeyId=arn)
    kinds = {entry.get("RotationType") for page in pages for entry in page.get("Rotations", [])}
    if "ON_DEMAND" not in kinds:
        return Finding.missing(text, f"aws kms rotate-key-on-demand --key-id {arn} (step 6.4)")
    return Finding.done(text)


def _old_ciphertext(env: CheckEnv) -> Finding:
    """secret.before, encrypted before the rotations, still decrypts with its first key material."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    text = f"{_OLD_CIPHERTEXT}, encrypted before the rotations, still decrypts with its first key material"
    arn = _practice_arn(env)
    path = Path(_OLD_CIPHERTEXT)
    if arn is None or not path.is_file():
        return Finding.missing(text, f"run steps 6.2 to 6.4 in this directory ({_OLD_CIPHERTEXT} is made in 6.2)")
    kms = env.client("kms")
    try:
        used = kms.decrypt(CiphertextBlob=path.read_bytes(), KeyId=arn).get("KeyMaterialId")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("InvalidCiphertextException", "IncorrectKeyException"):
            return Finding.missing(text, f"{_OLD_CIPHERTEXT} is not a ciphertext of {PRACTICE_ALIAS}: redo step 6.2")
        raise
    materials = kms.list_key_rotations(KeyId=arn, IncludeKeyMaterial="ALL_KEY_MATERIAL").get("Rotations", [])
    current = {m.get("KeyMaterialId") for m in materials if m.get("KeyMaterialState") == "CURRENT"}
    if used in current:
        return Finding.missing(text, "it was made with the current material: rotate on demand (step 6.4)")
    return Finding.done(text)


CHAPTER = Chapter(
    number=6,
    title="Rotation",
    checks=(_data_key_rotates, _practice_period, _rotated_on_demand, _old_ciphertext),
)
