"""Chapter 12's checkpoint: the kit is gone, and what it retained was removed or is pending deletion."""

from __future__ import annotations

from kmslab.guide.checks._base import Chapter, CheckEnv, Finding

TRAIL = "kmslab-trail"
TOPIC_MARK = "KmslabAlerting-AlertTopic"
BUCKET_PREFIXES = ("kmslabstorage-", "kmslabtrail-", "kmslabanalytics-", "kmslab-ch09-")
#: chapter 5's two buckets: kmslab-<account>-<region>-with-bucket-key and ...-without-bucket-key
BUCKET_SUFFIXES = ("-with-bucket-key", "-without-bucket-key")
#: the kit's keys and chapters 6-9's start with "kmslab", chapters 2-3's practice keys with "workshop"
KEY_DESCRIPTIONS = ("kmslab", "workshop")
LOG_GROUP_PREFIXES = ("/kmslab/", "KmslabAlerting-", "/aws/lambda/KmslabAlerting-")
TABLE_PREFIX = "KmslabAlerting-IdempotencyTable"
PARAMETERS = ("/kmslab/ch11/db-password", "/kmslab/ch11/feature-flag")
SECRETS = ("kmslab/ch11/api-token", "kmslab/ch11/default-key")
GOING = ("PendingDeletion", "PendingReplicaDeletion")
OWN_ALIASES = ("alias/kmslab/ch08", "alias/kmslab/ch09")


def stacks_gone(env: CheckEnv) -> Finding:
    """The kit's stacks are gone."""
    text = "the kit's stacks are gone (no kmslab-trail, no alert topic)"
    trails = env.client("cloudtrail").describe_trails(trailNameList=[TRAIL]).get("trailList", [])
    topics = [
        t["TopicArn"]
        for page in env.client("sns").get_paginator("list_topics").paginate()
        for t in page.get("Topics", [])
        if TOPIC_MARK in t["TopicArn"]
    ]
    if trails or topics:
        return Finding.missing(text, "npx cdk destroy --all (on AWS) or kmslab local destroy (step 12.2)")
    return Finding.done(text)


def buckets_gone(env: CheckEnv) -> Finding:
    """No bucket of the workshop is left."""
    text = "no kmslab bucket is left"
    left = [b["Name"] for b in env.client("s3").list_buckets().get("Buckets", []) if is_workshop_bucket(b["Name"])]
    if left:
        return Finding.missing(text, f"{len(left)} left ({', '.join(sorted(left))}): empty and delete them (step 12.3)")
    return Finding.done(text)


def is_workshop_bucket(name: str) -> bool:
    """True for a bucket the kit or a chapter made.

    Args:
        name: The bucket's name.

    Returns:
        Whether step 12.1 or 12.3 deletes it.
    """
    return name.startswith(BUCKET_PREFIXES) or (name.startswith("kmslab-") and name.endswith(BUCKET_SUFFIXES))


def logs_and_table_gone(env: CheckEnv) -> Finding:
    """No log group or alerts table of the kit is left."""
    text = "no kmslab log group or alerts table is left"
    groups = [
        g["logGroupName"]
        for page in env.client("logs").get_paginator("describe_log_groups").paginate()
        for g in page.get("logGroups", [])
        if g["logGroupName"].startswith(LOG_GROUP_PREFIXES)
    ]
    tables = [t for t in env.client("dynamodb").list_tables().get("TableNames", []) if t.startswith(TABLE_PREFIX)]
    if groups or tables:
        return Finding.missing(text, f"left: {', '.join(sorted(groups + tables))} (step 12.4)")
    return Finding.done(text)


def parameters_and_secrets_gone(env: CheckEnv) -> Finding:
    """No parameter or secret of chapter 11 is left."""
    text = "no parameter or secret of chapter 11 is left"
    found = env.client("ssm").get_parameters(Names=list(PARAMETERS)).get("Parameters", [])
    left = [p["Name"] for p in found]
    sm = env.client("secretsmanager")
    for page in sm.get_paginator("list_secrets").paginate():
        left += [s["Name"] for s in page.get("SecretList", []) if s["Name"] in SECRETS and not s.get("DeletedDate")]
    if left:
        return Finding.missing(text, f"left: {', '.join(sorted(left))} (step 12.1)")
    return Finding.done(text)


def _workshop_keys(env: CheckEnv, region: str | None) -> dict[str, str]:
    """The workshop's customer managed keys in one Region: key ID -> state."""
    kms = env.client("kms", region=region)
    found: dict[str, str] = {}
    for page in kms.get_paginator("list_keys").paginate():
        for key in page.get("Keys", []):
            meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if meta.get("KeyManager") == "CUSTOMER" and str(meta.get("Description") or "").startswith(KEY_DESCRIPTIONS):
                found[meta["KeyId"]] = meta["KeyState"]
    for page in kms.get_paginator("list_aliases").paginate():
        for alias in page.get("Aliases", []):
            if alias.get("AliasName") in OWN_ALIASES and alias.get("TargetKeyId"):
                meta = kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]
                found[meta["KeyId"]] = meta["KeyState"]
    return found


def keys_pending_deletion(env: CheckEnv) -> Finding:
    """Every workshop key is pending deletion."""
    text = "every workshop key is pending deletion"
    home = str(env.client("kms").meta.region_name)
    other = "us-east-1" if home == "us-west-2" else "us-west-2"
    alive = [
        f"{key_id} ({state}, {region})"
        for region in (home, other)
        for key_id, state in _workshop_keys(env, region).items()
        if state not in GOING
    ]
    if alive:
        return Finding.missing(text, f"still alive: {', '.join(sorted(alive))}: schedule their deletion (step 12.5)")
    return Finding.done(text)


CHAPTER = Chapter(
    number=12,
    title="Clean-up",
    checks=(stacks_gone, buckets_gone, logs_and_table_gone, parameters_and_secrets_gone, keys_pending_deletion),
)
