"""Helpers shared by the local KMS engine tests."""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

ACCOUNT = "111122223333"


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    """Return (code, message) of a botocore ClientError."""
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


def key_arn(key_id: str, region: str = "us-east-1") -> str:
    """The ARN of a key in the test account."""
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}"


def wrap_material(public_der: bytes, material: bytes, algorithm: str = "RSAES_OAEP_SHA_256") -> bytes:
    """Wrap key material for import with the public key GetParametersForImport returned."""
    public = serialization.load_der_public_key(public_der)
    digest = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
    oaep = padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)
    if algorithm.startswith("RSA_AES_KEY_WRAP"):
        # CKM_RSA_AES_KEY_WRAP: a fresh AES-256 key under RSA-OAEP, then the material under AES key wrap with padding.
        from cryptography.hazmat.primitives import keywrap

        aes_key = os.urandom(32)
        return public.encrypt(aes_key, oaep) + keywrap.aes_key_wrap_with_padding(aes_key, material)  # type: ignore[union-attr]
    return public.encrypt(material, oaep)  # type: ignore[union-attr]


def import_material(
    kms: Any,
    key_id: str,
    material: bytes | None = None,
    *,
    algorithm: str = "RSAES_OAEP_SHA_256",
    **extra: Any,
) -> bytes:
    """Run GetParametersForImport + ImportKeyMaterial; return the imported material."""
    material = material if material is not None else os.urandom(32)
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048")
    extra.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap_material(params["PublicKey"], material, algorithm),
        **extra,
    )
    return material


ASPECTS = frozenset({"states", "errors", "trail"})

#: aspect -> operation -> the tests that cover it; filled as test modules are imported (read by tests/kms/parity.py).
COVERAGE: dict[str, dict[str, list[str]]] = {aspect: {} for aspect in ASPECTS}


def covers(*operations: str, aspect: str) -> Any:
    """Mark a test as covering an aspect of KMS operations, for the parity scorecard (``make parity``).

    The scorecard imports the test modules and reads :data:`COVERAGE`; the test itself must assert the aspect.

    Args:
        *operations: KMS operation names.
        aspect: ``states`` (key-state table), ``errors`` (AWS errors) or ``trail`` (CloudTrail record).

    Returns:
        A decorator that leaves the test unchanged.
    """
    if aspect not in ASPECTS or not operations:
        raise ValueError(f"covers() needs operations and an aspect in {sorted(ASPECTS)}")

    def mark(test: Any) -> Any:
        name = f"{test.__module__}::{test.__name__}"
        for operation in operations:
            COVERAGE[aspect].setdefault(operation, []).append(name)
        return test

    return mark
