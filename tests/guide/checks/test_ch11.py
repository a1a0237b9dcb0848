"""``kmslab check 11`` against the kit deployed in a local cloud: parameter, secret, CloudTrail, the data key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmslab.guide.checks.ch11 import CHAPTER, DATA_ALIAS, PARAMETER, SECRET
from tests.guide.checks._chapters_8_12 import hint, learner, oks
from tests.integration.conftest import Kit


@pytest.fixture
def env(kit: Kit, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    ca = str(kit.data_dir / "tls" / "ca.pem")
    return learner(monkeypatch, tmp_path, url=kit.cloud.url, ca=ca, creds=kit.creds("admin"))


def test_the_page_step_by_step(kit: Kit, env) -> None:  # type: ignore[no-untyped-def]
    assert oks(CHAPTER, env) == [False, False, False, True]
    assert "step 11.2" in hint(CHAPTER, env, 0)
    assert "step 11.4" in hint(CHAPTER, env, 1)

    ssm, sm, kms = kit.client("ssm"), kit.client("secretsmanager"), kit.client("kms")
    ssm.put_parameter(Name=PARAMETER, Type="SecureString", KeyId=DATA_ALIAS, Value="correct horse")
    sm.create_secret(Name=SECRET, KmsKeyId=DATA_ALIAS, SecretString="tok")
    assert oks(CHAPTER, env) == [True, True, False, True]
    assert "--with-decryption" in hint(CHAPTER, env, 2)

    ssm.get_parameter(Name=PARAMETER, WithDecryption=True)
    assert oks(CHAPTER, env) == [True] * 4

    data = kms.describe_key(KeyId=DATA_ALIAS)["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=data)
    try:
        assert oks(CHAPTER, env) == [True, True, True, False]
        assert "it is Disabled" in hint(CHAPTER, env, 3)
    finally:
        kms.enable_key(KeyId=data)


def test_a_parameter_or_secret_under_another_key_is_missing(kit: Kit, env) -> None:  # type: ignore[no-untyped-def]
    kms, ssm, sm = kit.client("kms"), kit.client("ssm"), kit.client("secretsmanager")
    other = kms.create_key(Description="not the data key")["KeyMetadata"]["Arn"]
    ssm.put_parameter(Name=PARAMETER, Type="SecureString", KeyId=other, Value="x", Overwrite=True)
    if any(x["Name"] == SECRET for x in sm.list_secrets()["SecretList"]):  # the other test may have run here
        sm.update_secret(SecretId=SECRET, KmsKeyId=other)
    else:
        sm.create_secret(Name=SECRET, KmsKeyId=other, SecretString="tok")
    assert oks(CHAPTER, env)[:2] == [False, False]
    assert "put it again" in hint(CHAPTER, env, 0)
    assert other in hint(CHAPTER, env, 1)
