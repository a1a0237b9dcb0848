"""Chapter 5's checkpoint: the data bucket, the learner's two Bucket Key buckets, and the data key's state."""

from __future__ import annotations

from typing import Any

from kmslab.guide.checks._base import Chapter, CheckEnv, Finding

__all__ = ["CHAPTER", "DATA_BUCKET_PREFIX", "comparison_bucket"]

#: CDK names the kit's data bucket after its stack and construct, plus a generated suffix.
DATA_BUCKET_PREFIX = "kmslabstorage-databucket"
_DATA_ALIAS = "alias/kmslab/data"
#: The most objects looked at for one that uses a Bucket Key (HeadObject each: keep the check quick).
_MAX_OBJECTS = 50


def comparison_bucket(account: str, region: str, *, bucket_key: bool) -> str:
    """The name of the bucket step 5.5 makes with (or without) a Bucket Key.

    Args:
        account: The learner's account ID.
        region: The Region.
        bucket_key: True for the bucket with a Bucket Key.

    Returns:
        The bucket name.
    """
    return f"kmslab-{account}-{region}-{'with' if bucket_key else 'without'}-bucket-key"


def _data_key_arn(env: CheckEnv) -> str:
    return str(env.client("kms").describe_key(KeyId=_DATA_ALIAS)["KeyMetadata"]["Arn"])


def _data_bucket(env: CheckEnv) -> str | None:
    names = [b["Name"] for b in env.client("s3").list_buckets().get("Buckets", [])]
    found = sorted(n for n in names if n.startswith(DATA_BUCKET_PREFIX))
    return found[0] if found else None


def _default_rule(env: CheckEnv, bucket: str) -> dict[str, Any] | None:
    """The bucket's first default encryption rule, or None when it has none (or does not exist)."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        got = env.client("s3").get_bucket_encryption(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("NoSuchBucket", "ServerSideEncryptionConfigurationNotFoundError"):
            return None
        raise
    rules: list[dict[str, Any]] = got["ServerSideEncryptionConfiguration"].get("Rules", [])
    return rules[0] if rules else None


def _under_key(rule: dict[str, Any] | None, key_arn: str) -> bool:
    default = (rule or {}).get("ApplyServerSideEncryptionByDefault", {})
    return bool(default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID") == key_arn)


def _data_bucket_default(env: CheckEnv) -> Finding:
    """The data bucket encrypts new objects with the data key and a Bucket Key."""
    text = "the data bucket encrypts new objects with the data key and a Bucket Key"
    bucket = _data_bucket(env)
    if bucket is None:
        return Finding.missing(text, f"no bucket named {DATA_BUCKET_PREFIX}...: deploy the kit (chapter 1)")
    rule = _default_rule(env, bucket)
    if not _under_key(rule, _data_key_arn(env)) or not (rule or {}).get("BucketKeyEnabled"):
        return Finding.missing(text, f"{bucket}'s default encryption was changed: deploy the kit again (chapter 1)")
    return Finding.done(text)


def _object_with_bucket_key(env: CheckEnv) -> Finding:
    """The data bucket holds an object encrypted under the data key with a Bucket Key."""
    text = "the data bucket holds an object encrypted under the data key with a Bucket Key"
    hint = "upload one as alice (step 5.3)"
    bucket = _data_bucket(env)
    if bucket is None:
        return Finding.missing(text, f"no data bucket: deploy the kit (chapter 1), then {hint}")
    s3, key_arn = env.client("s3"), _data_key_arn(env)
    listed = s3.list_objects_v2(Bucket=bucket, MaxKeys=_MAX_OBJECTS).get("Contents", [])
    for item in listed:
        head = s3.head_object(Bucket=bucket, Key=item["Key"])
        if (
            head.get("ServerSideEncryption") == "aws:kms"
            and head.get("SSEKMSKeyId") == key_arn
            and head.get("BucketKeyEnabled")
        ):
            return Finding.done(text)
    return Finding.missing(text, hint if not listed else f"none of its objects is: {hint}")


def _comparison(env: CheckEnv, *, bucket_key: bool) -> Finding:
    region = env.client("s3").meta.region_name
    name = comparison_bucket(env.account(), region, bucket_key=bucket_key)
    text = f"{name} encrypts with the data key" + (" and a Bucket Key" if bucket_key else ", without a Bucket Key")
    rule = _default_rule(env, name)
    if rule is None:
        return Finding.missing(text, "make it and set its default encryption (step 5.5)")
    if not _under_key(rule, _data_key_arn(env)) or bool(rule.get("BucketKeyEnabled")) != bucket_key:
        return Finding.missing(text, "its default encryption differs: run put-bucket-encryption of step 5.5 again")
    return Finding.done(text)


def _without_bucket_key(env: CheckEnv) -> Finding:
    """Your bucket without a Bucket Key encrypts with the data key."""
    return _comparison(env, bucket_key=False)


def _with_bucket_key(env: CheckEnv) -> Finding:
    """Your bucket with a Bucket Key encrypts with the data key."""
    return _comparison(env, bucket_key=True)


def _data_key_enabled(env: CheckEnv) -> Finding:
    """The data key is enabled, so its objects are readable."""
    text = "the data key is enabled, so its objects are readable"
    meta = env.client("kms").describe_key(KeyId=_DATA_ALIAS)["KeyMetadata"]
    if meta["KeyState"] != "Enabled":
        # EnableKey takes a key ID or ARN, never an alias.
        return Finding.missing(text, f"it is {meta['KeyState']}: aws kms enable-key --key-id {meta['Arn']} (step 5.7)")
    return Finding.done(text)


CHAPTER = Chapter(
    number=5,
    title="S3 with SSE-KMS",
    checks=(_data_bucket_default, _object_with_bucket_key, _without_bucket_key, _with_bucket_key, _data_key_enabled),
)
