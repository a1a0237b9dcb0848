"""Chapter 8's checkpoint: a multi-Region primary key of the learner's own, replicated and used elsewhere.

The page names its primary ``alias/kmslab/ch08`` in the home Region, replicates it, creates the same alias
in the replica's Region, decrypts there and turns automatic rotation on (on the primary).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from kmslab.guide.checks._base import Chapter, CheckEnv, Finding

ALIAS = "alias/kmslab/ch08"
_HINT_CREATE = "create it as in step 8.2 (aws kms create-key --multi-region, then create-alias)"


def _home(env: CheckEnv) -> str:
    return str(env.client("kms").meta.region_name)


def _primary(env: CheckEnv) -> dict[str, Any] | None:
    """The key the alias names in the home Region, or None when the alias does not exist."""
    try:
        return dict(env.client("kms").describe_key(KeyId=ALIAS)["KeyMetadata"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NotFoundException":
            return None
        raise


def _replicas(meta: dict[str, Any]) -> list[dict[str, str]]:
    return list(meta.get("MultiRegionConfiguration", {}).get("ReplicaKeys", []))


def primary_key(env: CheckEnv) -> Finding:
    """alias/kmslab/ch08 names a multi-Region primary key."""
    home = _home(env)
    text = f"{ALIAS} names a multi-Region primary key in {home}"
    meta = _primary(env)
    if meta is None:
        return Finding.missing(text, f"no {ALIAS} in {home}: {_HINT_CREATE}")
    kind = meta.get("MultiRegionConfiguration", {}).get("MultiRegionKeyType")
    if not meta.get("MultiRegion") or kind != "PRIMARY":
        return Finding.missing(text, f"{ALIAS} names {meta['KeyId']}, not a multi-Region primary key: {_HINT_CREATE}")
    return Finding.done(text)


def replica(env: CheckEnv) -> Finding:
    """The primary has an enabled replica in another Region."""
    meta = _primary(env)
    replicas = _replicas(meta) if meta else []
    if meta is None or not replicas:
        return Finding.missing(
            "the primary has an enabled replica in another Region",
            "replicate it as in step 8.3 (aws kms replicate-key --replica-region ...)",
        )
    region = replicas[0]["Region"]
    text = f"the primary has an enabled replica in {region}"
    state = env.client("kms", region=region).describe_key(KeyId=replicas[0]["Arn"])["KeyMetadata"]["KeyState"]
    if state != "Enabled":
        return Finding.missing(text, f"the replica is {state}: aws kms enable-key --region {region} --key-id ...")
    return Finding.done(text)


def alias_in_other_region(env: CheckEnv) -> Finding:
    """The alias exists in the replica's Region too, on the replica."""
    meta = _primary(env)
    replicas = _replicas(meta) if meta else []
    if meta is None or not replicas:
        return Finding.missing(f"{ALIAS} exists in the replica's Region too", "replicate the key first (step 8.3)")
    region = replicas[0]["Region"]
    text = f"{ALIAS} exists in {region} too, on the replica"
    try:
        there = env.client("kms", region=region).describe_key(KeyId=ALIAS)["KeyMetadata"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NotFoundException":
            raise
        return Finding.missing(text, f"aliases are per Region: aws kms create-alias --region {region} ... (step 8.5)")
    if there["KeyId"] != meta["KeyId"]:
        return Finding.missing(text, f"in {region} it names {there['KeyId']}, not the replica {meta['KeyId']}")
    return Finding.done(text)


def replica_decrypted(env: CheckEnv) -> Finding:
    """The replica was used to decrypt."""
    meta = _primary(env)
    replicas = _replicas(meta) if meta else []
    if meta is None or not replicas:
        return Finding.missing("the replica decrypted data", "replicate the key first (step 8.3)")
    region = replicas[0]["Region"]
    text = f"the replica in {region} decrypted data"
    usage = env.client("kms", region=region).get_key_last_usage(KeyId=replicas[0]["Arn"]).get("KeyLastUsage") or {}
    operation = usage.get("Operation")
    if operation != "Decrypt":
        seen = f"its last use is {operation}" if operation else "it has not been used yet"
        return Finding.missing(text, f"{seen}: aws kms decrypt --region {region} ... (step 8.4)")
    return Finding.done(f"{text} (last use: Decrypt)")


def rotation(env: CheckEnv) -> Finding:
    """Automatic rotation is on, on the primary."""
    text = "automatic rotation is on (set on the primary, shared by the replica)"
    meta = _primary(env)
    if meta is None:
        return Finding.missing(text, f"create the key first: {_HINT_CREATE}")
    if not env.client("kms").get_key_rotation_status(KeyId=meta["KeyId"]).get("KeyRotationEnabled"):
        return Finding.missing(text, "aws kms enable-key-rotation --key-id ... on the primary (step 8.6)")
    return Finding.done(text)


CHAPTER = Chapter(
    number=8,
    title="Multi-Region keys",
    checks=(primary_key, replica, alias_in_other_region, replica_decrypted, rotation),
)
