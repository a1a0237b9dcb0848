"""``kmslab check 9`` against the kit deployed in a local cloud: each step of the deletion page."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from kmslab.guide.checks.ch09 import ALIAS, CHAPTER, DATA_ALIAS, TOPIC_MARK
from tests.guide.checks._chapters_8_12 import hint, learner, oks
from tests.integration.conftest import Kit

BUCKET = "kmslab-ch09-111122223333-us-east-1"


@pytest.fixture
def env(kit: Kit, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    ca = str(kit.data_dir / "tls" / "ca.pem")
    return learner(monkeypatch, tmp_path, url=kit.cloud.url, ca=ca, creds=kit.creds("admin"))


def test_the_page_step_by_step(kit: Kit, env) -> None:  # type: ignore[no-untyped-def]
    assert oks(CHAPTER, env) == [False] * 5
    assert "step 9.1" in hint(CHAPTER, env, 0)
    assert "step 9.2" in hint(CHAPTER, env, 1)

    kms, s3, sns = kit.client("kms"), kit.client("s3"), kit.client("sns")
    key = kms.create_key(Description="ch09")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=ALIAS, TargetKeyId=key)
    s3.create_bucket(Bucket=BUCKET)
    assert "no object" in hint(CHAPTER, env, 0)
    s3.put_object(Bucket=BUCKET, Key="2026/payroll.csv", Body=b"a,1\n", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    [topic] = [t["TopicArn"] for t in sns.list_topics()["Topics"] if TOPIC_MARK in t["TopicArn"]]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="learner@example.com")
    assert oks(CHAPTER, env) == [True, True, False, False, True]
    assert "no ScheduleKeyDeletion with a 7-day window" in hint(CHAPTER, env, 2)

    kms.disable_key(KeyId=key)
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert "still pending deletion" in hint(CHAPTER, env, 2)
    assert "PendingDeletion" in hint(CHAPTER, env, 4)
    with pytest.raises(ClientError):
        s3.get_object(Bucket=BUCKET, Key="2026/payroll.csv")
    assert oks(CHAPTER, env)[3] is True

    kms.cancel_key_deletion(KeyId=key)
    assert "Disabled" in hint(CHAPTER, env, 4)
    kms.enable_key(KeyId=key)
    assert oks(CHAPTER, env) == [True] * 5


def test_a_window_other_than_7_days_or_a_disabled_data_key_is_missing(kit: Kit, env) -> None:  # type: ignore[no-untyped-def]
    kms = kit.client("kms")
    other = kms.create_key(Description="ch09 again")["KeyMetadata"]["KeyId"]
    if any(a["AliasName"] == ALIAS for a in kms.list_aliases()["Aliases"]):  # the other test may have run here
        kms.update_alias(AliasName=ALIAS, TargetKeyId=other)
    else:
        kms.create_alias(AliasName=ALIAS, TargetKeyId=other)
    kms.schedule_key_deletion(KeyId=other, PendingWindowInDays=30)
    kms.cancel_key_deletion(KeyId=other)
    kms.enable_key(KeyId=other)
    assert oks(CHAPTER, env)[2] is False
    assert "7-day window" in hint(CHAPTER, env, 2)

    data = kms.describe_key(KeyId=DATA_ALIAS)["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=data)
    try:
        assert oks(CHAPTER, env)[4] is False
        assert f"{DATA_ALIAS} is Disabled" in hint(CHAPTER, env, 4)
    finally:
        kms.enable_key(KeyId=data)
