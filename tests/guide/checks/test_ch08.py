"""``kmslab check 8`` against a local cloud: each step of the multi-Region page, missing then done."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmslab.guide.checks.ch08 import ALIAS, CHAPTER
from tests.cloud.conftest import Running
from tests.cloud.conftest import cloud as cloud  # noqa: F401 - the module's local cloud fixture
from tests.guide.checks._chapters_8_12 import hint, kms, learner, oks


@pytest.fixture
def env(cloud: Running, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    return learner(monkeypatch, tmp_path, url=cloud.url, ca=str(cloud.ca), creds=cloud.creds("admin"))


def test_nothing_done_yet_every_step_is_missing_with_a_hint(env) -> None:  # type: ignore[no-untyped-def]
    assert oks(CHAPTER, env) == [False] * 5
    assert "step 8.2" in hint(CHAPTER, env, 0)


def test_a_single_region_key_under_the_alias_is_not_a_primary(env) -> None:  # type: ignore[no-untyped-def]
    client = kms(env)
    key = client.create_key(Description="single")["KeyMetadata"]["KeyId"]
    client.create_alias(AliasName=ALIAS, TargetKeyId=key)
    try:
        assert oks(CHAPTER, env)[0] is False
        assert "not a multi-Region primary key" in hint(CHAPTER, env, 0)
    finally:
        client.delete_alias(AliasName=ALIAS)


def test_the_page_step_by_step(env) -> None:  # type: ignore[no-untyped-def]
    home, other = kms(env), kms(env, "us-west-2")
    mrk = home.create_key(MultiRegion=True, Description="ch08")["KeyMetadata"]["KeyId"]
    home.create_alias(AliasName=ALIAS, TargetKeyId=mrk)
    assert oks(CHAPTER, env) == [True, False, False, False, False]

    home.replicate_key(KeyId=mrk, ReplicaRegion="us-west-2")
    assert oks(CHAPTER, env) == [True, True, False, False, False]
    assert "aliases are per Region" in hint(CHAPTER, env, 2)

    other.create_alias(AliasName=ALIAS, TargetKeyId=mrk)
    blob = home.encrypt(KeyId=mrk, Plaintext=b"note")["CiphertextBlob"]
    assert oks(CHAPTER, env)[2:4] == [True, False]
    assert "has not been used yet" in hint(CHAPTER, env, 3)

    other.decrypt(CiphertextBlob=blob)
    home.enable_key_rotation(KeyId=mrk)
    assert oks(CHAPTER, env) == [True] * 5

    other.disable_key(KeyId=mrk)
    assert oks(CHAPTER, env)[1] is False
    assert "the replica is Disabled" in hint(CHAPTER, env, 1)
    other.enable_key(KeyId=mrk)
    other.encrypt(KeyId=mrk, Plaintext=b"again")
    assert "its last use is Encrypt" in hint(CHAPTER, env, 3)
