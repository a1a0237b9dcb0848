"""Chapter 7's checkpoint: the key with imported material, its re-import, and what is left on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kmslab.guide.checks._base import Chapter, CheckEnv, Finding

__all__ = ["CHAPTER", "IMPORTED_ALIAS", "PLAINTEXT_MATERIAL"]

#: The key the page creates, its ciphertext, and the plaintext material files it deletes at the end.
IMPORTED_ALIAS = "alias/kmslab/imported"
_CIPHERTEXT = "imported-secret.enc"
_PLAINTEXT = "imported-secret.txt"
PLAINTEXT_MATERIAL = ("key-material.bin", "other-material.bin")


def _metadata(env: CheckEnv) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        meta: dict[str, Any] = env.client("kms").describe_key(KeyId=IMPORTED_ALIAS)["KeyMetadata"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NotFoundException":
            return None
        raise
    return meta


def _external_key(env: CheckEnv) -> Finding:
    """The imported key exists, with origin EXTERNAL."""
    text = f"{IMPORTED_ALIAS} is a key for imported (EXTERNAL) key material"
    meta = _metadata(env)
    if meta is None:
        return Finding.missing(text, "create it with --origin EXTERNAL and its alias (step 7.1)")
    if meta.get("Origin") != "EXTERNAL":
        return Finding.missing(text, f"its origin is {meta.get('Origin')}: point the alias at an EXTERNAL key (7.1)")
    return Finding.done(text)


def _material_imported(env: CheckEnv) -> Finding:
    """Its key material is imported: the key is Enabled."""
    text = "its key material is imported: the key is Enabled"
    meta = _metadata(env)
    if meta is None:
        return Finding.missing(text, "create the key first (step 7.1)")
    state = meta.get("KeyState")
    if state == "PendingImport":
        return Finding.missing(text, "it is PendingImport: import the same material again (step 7.8)")
    if state != "Enabled":
        return Finding.missing(text, f"it is {state}")
    return Finding.done(text)


def _no_expiry(env: CheckEnv) -> Finding:
    """The material was re-imported without an expiry date."""
    text = "the material was re-imported without an expiry date"
    meta = _metadata(env)
    if meta is None or meta.get("KeyState") != "Enabled":
        return Finding.missing(text, "re-import it with --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE (step 7.8)")
    if meta.get("ExpirationModel") != "KEY_MATERIAL_DOES_NOT_EXPIRE":
        return Finding.missing(text, f"it expires ({meta.get('ExpirationModel')}): do step 7.7, then 7.8")
    return Finding.done(text)


def _decrypts_again(env: CheckEnv) -> Finding:
    """imported-secret.enc decrypts again after the re-import."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    text = f"{_CIPHERTEXT} decrypts again after the re-import"
    meta = _metadata(env)
    files = Path(_CIPHERTEXT), Path(_PLAINTEXT)
    if meta is None or not all(f.is_file() for f in files):
        return Finding.missing(text, f"run the page in this directory ({_CIPHERTEXT} is made in step 7.6)")
    try:
        got = env.client("kms").decrypt(CiphertextBlob=files[0].read_bytes(), KeyId=meta["Arn"])
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return Finding.missing(text, f"{error.get('Code')}: {error.get('Message', '')} (steps 7.6 to 7.8)")
    if got["Plaintext"] != files[1].read_bytes():
        return Finding.missing(text, f"it decrypts, but not to {_PLAINTEXT}: redo step 7.6")
    return Finding.done(text)


def _no_plaintext_material(env: CheckEnv) -> Finding:
    """No plaintext key material is left in the current directory."""
    names = ", ".join(PLAINTEXT_MATERIAL)
    text = f"no plaintext key material is left here ({names})"
    if not Path(_CIPHERTEXT).is_file():
        return Finding.missing(text, f"run the page in this directory ({_CIPHERTEXT} is made in step 7.6)")
    left = [name for name in PLAINTEXT_MATERIAL if Path(name).exists()]
    if left:
        return Finding.missing(text, f"once imported (step 7.8), delete them: rm {' '.join(left)}")
    return Finding.done(text)


CHAPTER = Chapter(
    number=7,
    title="Imported key material",
    checks=(_external_key, _material_imported, _no_expiry, _decrypts_again, _no_plaintext_material),
)
