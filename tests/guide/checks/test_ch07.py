"""``kmslab check 7`` against a local cloud with the kit deployed: the import flow, step by step."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from kmslab.guide.checks.ch07 import CHAPTER, IMPORTED_ALIAS
from kmslab.guide.checks.cli import check
from tests.guide.checks._kit import Learner, deployed_kit, learner_env, results

SECRET = b"protected by material I generated myself\n"


@pytest.fixture(scope="module")
def learner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Learner]:
    with deployed_kit(tmp_path_factory.mktemp("ch07")) as kit:
        yield kit


def _import(kms: Any, key: str, material: bytes, **expiry: Any) -> None:
    """Steps 7.2 to 7.5: parameters, RSA-OAEP SHA-256 wrapping, import."""
    params = kms.get_parameters_for_import(
        KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    wrapping_key = serialization.load_der_public_key(params["PublicKey"])
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    wrapped = wrapping_key.encrypt(material, oaep)  # type: ignore[union-attr]
    kms.import_key_material(KeyId=key, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped, **expiry)


def test_the_page_step_by_step(learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kms = learner.client("kms")
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert [f.ok for f in found] == [False] * 5
    assert "step 7.1" in found[0].hint

    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=IMPORTED_ALIAS, TargetKeyId=key)
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert [f.ok for f in found] == [True, False, False, False, False]
    assert found[1].hint == "it is PendingImport: import the same material again (step 7.8)"

    material = os.urandom(32)
    (tmp_path / "key-material.bin").write_bytes(material)
    valid_to = datetime.now(UTC) + timedelta(days=365)
    _import(kms, key, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    (tmp_path / "imported-secret.txt").write_bytes(SECRET)
    (tmp_path / "imported-secret.enc").write_bytes(kms.encrypt(KeyId=key, Plaintext=SECRET)["CiphertextBlob"])
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert [f.ok for f in found] == [True, True, False, True, False]
    assert "it expires (KEY_MATERIAL_EXPIRES)" in found[2].hint
    assert found[4].hint == "once imported (step 7.8), delete them: rm key-material.bin"

    kms.delete_imported_key_material(KeyId=key)
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert [f.ok for f in found] == [True, False, False, False, False]
    assert found[3].hint.startswith("KMSInvalidStateException")

    _import(kms, key, material, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    (tmp_path / "key-material.bin").unlink()
    learner_env(learner, monkeypatch, tmp_path)
    result = CliRunner().invoke(check, ["7"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Chapter 7: Imported key material",
        "  ✓ alias/kmslab/imported is a key for imported (EXTERNAL) key material",
        "  ✓ its key material is imported: the key is Enabled",
        "  ✓ the material was re-imported without an expiry date",
        "  ✓ imported-secret.enc decrypts again after the re-import",
        "  ✓ no plaintext key material is left here (key-material.bin, other-material.bin)",
        "5 of 5 done",
    ]


def test_an_alias_on_a_key_with_kms_material_is_not_the_page_s_key(
    learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kms = learner.client("kms")
    with contextlib.suppress(kms.exceptions.NotFoundException):
        kms.delete_alias(AliasName=IMPORTED_ALIAS)
    kms.create_alias(AliasName=IMPORTED_ALIAS, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert not found[0].ok and found[0].hint.startswith("its origin is AWS_KMS")
