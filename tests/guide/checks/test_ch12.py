"""``kmslab check 12`` against the kit deployed in a local cloud: everything missing, then cleaned up."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmslab.cloud.deploy.engine import Deployer
from kmslab.cloud.deploy.run import Connection, environment
from kmslab.cloud.deploy.state import StackStore
from kmslab.cloud.deploy.types import default_registry
from kmslab.guide.checks.ch12 import CHAPTER, KEY_DESCRIPTIONS, LOG_GROUP_PREFIXES, TABLE_PREFIX, is_workshop_bucket
from tests.guide.checks._chapters_8_12 import hint, learner, oks
from tests.integration.conftest import Kit


@pytest.fixture
def env(kit: Kit, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    ca = str(kit.data_dir / "tls" / "ca.pem")
    return learner(monkeypatch, tmp_path, url=kit.cloud.url, ca=ca, creds=kit.creds("admin"))


def _empty_and_delete(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    versions = s3.list_object_versions(Bucket=bucket)
    for item in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
    s3.delete_bucket(Bucket=bucket)


def test_the_page_step_by_step(kit: Kit, env) -> None:  # type: ignore[no-untyped-def]
    ssm, sm, kms = kit.client("ssm"), kit.client("secretsmanager"), kit.client("kms")
    ssm.put_parameter(Name="/kmslab/ch11/db-password", Type="SecureString", Value="x")
    sm.create_secret(Name="kmslab/ch11/api-token", SecretString="y")
    mrk_home = kms.create_key(MultiRegion=True, Description="kmslab chapter 8")["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=mrk_home, ReplicaRegion="us-west-2")
    practice = kms.create_key(Description="workshop: grants")["KeyMetadata"]["KeyId"]  # chapter 3's
    chapter5 = "kmslab-111122223333-us-east-1-with-bucket-key"
    kit.client("s3").create_bucket(Bucket=chapter5)
    assert oks(CHAPTER, env) == [False] * 5
    assert "cdk destroy" in hint(CHAPTER, env, 0)
    assert "us-west-2" in hint(CHAPTER, env, 4)

    ssm.delete_parameter(Name="/kmslab/ch11/db-password")
    sm.delete_secret(SecretId="kmslab/ch11/api-token", ForceDeleteWithoutRecovery=True)
    assert oks(CHAPTER, env)[3] is True

    admin = kit.creds("admin")
    conn = Connection(
        endpoint_url=kit.cloud.url,
        region="us-east-1",
        account=kit.identities.get("account", "111122223333"),
        access_key_id=admin["aws_access_key_id"],
        secret_access_key=admin["aws_secret_access_key"],
        ca_bundle=str(kit.data_dir / "tls" / "ca.pem"),
    )
    deployer = Deployer(StackStore(kit.data_dir / "cloudformation"), default_registry(), environment(conn))
    for name in ("KmslabAlerting", "KmslabAnalytics", "KmslabStorage", "KmslabTrail", "KmslabKeys"):
        deployer.destroy(name)  # consumers first, as cdk destroy and kmslab local destroy do
    assert oks(CHAPTER, env) == [True, False, False, True, False]

    s3, logs, dynamodb = kit.client("s3"), kit.client("logs"), kit.client("dynamodb")
    assert chapter5 in hint(CHAPTER, env, 1)
    for bucket in [b["Name"] for b in s3.list_buckets()["Buckets"] if is_workshop_bucket(b["Name"])]:
        _empty_and_delete(s3, bucket)
    for group in logs.describe_log_groups()["logGroups"]:
        if group["logGroupName"].startswith(LOG_GROUP_PREFIXES):
            logs.delete_log_group(logGroupName=group["logGroupName"])
    assert "IdempotencyTable" in hint(CHAPTER, env, 2)
    for table in dynamodb.list_tables()["TableNames"]:
        if table.startswith(TABLE_PREFIX):
            dynamodb.delete_table(TableName=table)
    assert oks(CHAPTER, env) == [True, True, True, True, False]

    _kms_in(kit, "us-west-2").schedule_key_deletion(KeyId=mrk_home, PendingWindowInDays=7)
    assert practice in hint(CHAPTER, env, 4)
    for key in kms.list_keys()["Keys"]:
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        workshop = meta["KeyManager"] == "CUSTOMER" and meta.get("Description", "").startswith(KEY_DESCRIPTIONS)
        if workshop and meta["KeyState"] not in ("PendingDeletion", "PendingReplicaDeletion"):
            kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert oks(CHAPTER, env) == [True] * 5


def _kms_in(kit: Kit, region: str):  # type: ignore[no-untyped-def]
    """A KMS client of the admin in another Region."""
    return kit.client("kms", region=region)
