"""``kmslab check 4`` against a local cloud with the kit deployed: the page's files, done right and wrong."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab.envelope import KmsKeyProvider, encrypt
from kmslab.guide.checks.ch04 import CHAPTER, CONTEXT, DATA_ALIAS
from kmslab.guide.checks.cli import check
from tests.guide.checks._kit import Learner, deployed_kit, learner_env, results

REPORT = b"Quarterly figures: revenue up 12%.\n"


@pytest.fixture(scope="module")
def learner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Learner]:
    with deployed_kit(tmp_path_factory.mktemp("ch04")) as kit:
        yield kit


def _by_hand(kms: object, workdir: Path, *, context: dict[str, str], key_id: str = DATA_ALIAS) -> None:
    """Step 4.4: a data key from KMS, AES-GCM locally, the encrypted data key beside the file."""
    got = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)  # type: ignore[attr-defined]
    nonce = os.urandom(12)
    (workdir / "report.txt").write_bytes(REPORT)
    (workdir / "report.txt.key").write_bytes(got["CiphertextBlob"])
    (workdir / "report.txt.enc").write_bytes(nonce + AESGCM(got["Plaintext"]).encrypt(nonce, REPORT, None))


def _envelope(kms: object, workdir: Path, *, context: dict[str, str], key_id: str = DATA_ALIAS) -> None:
    """Step 4.6: kmslab envelope encrypt."""
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]  # type: ignore[attr-defined]
    message = encrypt(REPORT, provider=KmsKeyProvider(kms, [arn]), encryption_context=context)
    (workdir / "report.txt.kms").write_bytes(message)


def test_the_page_done_passes_every_check(learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kms = learner.client("kms")
    _by_hand(kms, tmp_path, context=CONTEXT)
    _envelope(kms, tmp_path, context=CONTEXT)
    learner_env(learner, monkeypatch, tmp_path)
    result = CliRunner().invoke(check, ["4"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Chapter 4: Envelope encryption and data keys",
        "  ✓ report.txt.key is a data key encrypted under the data key (context project=kmslab)",
        "  ✓ report.txt.enc decrypts with that data key to report.txt",
        "  ✓ report.txt.kms is an envelope message under the data key with context project=kmslab",
        "  ✓ report.txt.kms decrypts to report.txt",
        "4 of 4 done",
    ]


def test_an_empty_directory_misses_every_step_with_a_hint(
    learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert [f.ok for f in found] == [False] * 4
    assert "run step 4.4 here" in found[0].hint and "run step 4.6 here" in found[2].hint


def test_a_data_key_without_the_context_is_refused(
    learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kms = learner.client("kms")
    _by_hand(kms, tmp_path, context={"project": "other"})
    _envelope(kms, tmp_path, context=CONTEXT)
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert [f.ok for f in found] == [False, False, True, True]
    assert "KMS refused it with context project=kmslab" in found[0].hint


def test_a_tampered_ciphertext_does_not_decrypt(
    learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _by_hand(learner.client("kms"), tmp_path, context=CONTEXT)
    sealed = bytearray((tmp_path / "report.txt.enc").read_bytes())
    sealed[-1] ^= 1
    (tmp_path / "report.txt.enc").write_bytes(bytes(sealed))
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert found[0].ok and not found[1].ok
    assert "not AES-GCM under that data key" in found[1].hint


def test_an_envelope_under_another_key_or_context_is_reported(
    learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kms = learner.client("kms")
    other = kms.create_key(Description="not the data key")["KeyMetadata"]["Arn"]
    _envelope(kms, tmp_path, context=CONTEXT, key_id=other)
    (tmp_path / "report.txt").write_bytes(REPORT)
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert not found[2].ok and other in found[2].hint
    assert not found[3].ok

    _envelope(kms, tmp_path, context={"project": "other"})
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert not found[2].ok and "its context lacks project=kmslab" in found[2].hint
    assert not found[3].ok


def test_bob_without_kms_permission_is_told_what_kms_said(
    learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _by_hand(learner.client("kms"), tmp_path, context=CONTEXT)
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path, profile="bob"))
    assert not found[0].ok and found[0].hint.startswith("AccessDeniedException")
