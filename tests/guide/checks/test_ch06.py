"""``kmslab check 6`` against a local cloud with the kit deployed: the practice key before and after rotations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kmslab.guide.checks.ch06 import CHAPTER, PRACTICE_ALIAS, PRACTICE_PERIOD_DAYS
from kmslab.guide.checks.cli import check
from tests.guide.checks._kit import Learner, deployed_kit, learner_env, results


@pytest.fixture(scope="module")
def learner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Learner]:
    with deployed_kit(tmp_path_factory.mktemp("ch06")) as kit:
        yield kit


def test_without_a_practice_key_only_the_data_key_passes(
    learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert [f.ok for f in found] == [True, False, False, False]
    assert all("step 6.2" in f.hint or "6.2" in f.hint for f in found[1:])


def test_the_page_step_by_step(learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kms = learner.client("kms")
    key = kms.create_key(Description="practice")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=PRACTICE_ALIAS, TargetKeyId=key)
    (tmp_path / "secret.before").write_bytes(kms.encrypt(KeyId=key, Plaintext=b"before")["CiphertextBlob"])

    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert [f.ok for f in found] == [True, False, False, False]
    assert found[1].hint == f"aws kms enable-key-rotation --key-id {key} --rotation-period-in-days 90"
    assert found[3].hint == "it was made with the current material: rotate on demand (step 6.4)"

    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=365)
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert not found[1].ok, "another period than the page's is not the page's step"

    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=PRACTICE_PERIOD_DAYS)
    kms.rotate_key_on_demand(KeyId=key)
    learner_env(learner, monkeypatch, tmp_path)
    result = CliRunner().invoke(check, ["6"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "4 of 4 done"

    # A ciphertext made after the rotation is not the old ciphertext the page asks for.
    (tmp_path / "secret.before").write_bytes(kms.encrypt(KeyId=key, Plaintext=b"after")["CiphertextBlob"])
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert not found[3].ok


def test_a_data_key_with_rotation_off_is_reported(
    learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kms = learner.client("kms")
    data_key = kms.describe_key(KeyId="alias/kmslab/data")["KeyMetadata"]["Arn"]
    kms.disable_key_rotation(KeyId=data_key)
    try:
        found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    finally:
        kms.enable_key_rotation(KeyId=data_key)
    assert not found[0].ok
    assert found[0].hint == f"rotation was turned off: aws kms enable-key-rotation --key-id {data_key}"
