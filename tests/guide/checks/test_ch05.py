"""``kmslab check 5`` against a local cloud with the kit deployed: nothing done, the page done, a disabled key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kmslab.guide.checks.ch05 import CHAPTER, DATA_BUCKET_PREFIX, comparison_bucket
from kmslab.guide.checks.cli import check
from tests.guide.checks._kit import ACCOUNT, REGION, Learner, deployed_kit, learner_env, results

WITHOUT = comparison_bucket(ACCOUNT, REGION, bucket_key=False)
WITH = comparison_bucket(ACCOUNT, REGION, bucket_key=True)


@pytest.fixture(scope="module")
def learner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Learner]:
    with deployed_kit(tmp_path_factory.mktemp("ch05")) as kit:
        yield kit


def _data_bucket(s3: Any) -> str:
    return next(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(DATA_BUCKET_PREFIX))


def _data_key(learner: Learner) -> str:
    return str(learner.client("kms").describe_key(KeyId="alias/kmslab/data")["KeyMetadata"]["Arn"])


def _comparison_bucket(learner: Learner, name: str, *, bucket_key: bool, key: str) -> None:
    s3 = learner.client("s3")
    s3.create_bucket(Bucket=name)
    rule = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": rule, "BucketKeyEnabled": bucket_key}]
        },
    )


def test_before_the_page_only_the_kit_s_own_settings_are_done(
    learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert [f.ok for f in found] == [True, False, False, False, True]
    assert found[1].hint == "upload one as alice (step 5.3)"
    assert found[2].text == f"{WITHOUT} encrypts with the data key, without a Bucket Key"
    assert "step 5.5" in found[2].hint and "step 5.5" in found[3].hint


def test_the_page_done_passes_and_a_disabled_data_key_is_reported(
    learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = _data_key(learner)
    # Step 5.3: alice uploads without encryption headers; the bucket's default encryption applies.
    learner.client("s3", "alice").put_object(Bucket=_data_bucket(learner.client("s3")), Key="notes.txt", Body=b"n")
    # A comparison bucket made the wrong way round is reported as such.
    _comparison_bucket(learner, WITHOUT, bucket_key=True, key=key)
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert found[1].ok and not found[2].ok and "differs" in found[2].hint

    _comparison_bucket(learner, WITHOUT, bucket_key=False, key=key)
    _comparison_bucket(learner, WITH, bucket_key=True, key=key)
    learner_env(learner, monkeypatch, tmp_path)
    result = CliRunner().invoke(check, ["5"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Chapter 5: S3 with SSE-KMS",
        "  ✓ the data bucket encrypts new objects with the data key and a Bucket Key",
        "  ✓ the data bucket holds an object encrypted under the data key with a Bucket Key",
        f"  ✓ {WITHOUT} encrypts with the data key, without a Bucket Key",
        f"  ✓ {WITH} encrypts with the data key and a Bucket Key",
        "  ✓ the data key is enabled, so its objects are readable",
        "5 of 5 done",
    ]

    kms = learner.client("kms")
    kms.disable_key(KeyId=key)
    try:
        found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    finally:
        kms.enable_key(KeyId=key)
    assert not found[4].ok and found[4].hint == f"it is Disabled: aws kms enable-key --key-id {key} (step 5.7)"


def test_an_object_without_a_bucket_key_does_not_count(
    learner: Learner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    s3 = learner.client("s3", "alice")
    bucket = _data_bucket(learner.client("s3"))
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.put_object(
        Bucket=bucket,
        Key="no-bucket-key.txt",
        Body=b"n",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=_data_key(learner),
        BucketKeyEnabled=False,
    )
    found = results(CHAPTER, learner_env(learner, monkeypatch, tmp_path))
    assert not found[1].ok and found[1].hint == "none of its objects is: upload one as alice (step 5.3)"
