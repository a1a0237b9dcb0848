"""Chapter 9's checkpoint: a key of the learner's own, retired safely and brought back.

The page makes ``alias/kmslab/ch09`` and an SSE-KMS object under it in ``kmslab-ch09-<account>-<region>``,
subscribes an e-mail address to the kit's alert topic, disables the key, schedules its deletion with a
7-day window, reads the object (refused: pending deletion), cancels the deletion and enables the key.
What happened is read back from the key's CloudTrail events (``LookupEvents``), as a learner would.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from kmslab.guide.checks._base import Chapter, CheckEnv, Finding

ALIAS = "alias/kmslab/ch09"
DATA_ALIAS = "alias/kmslab/data"
TOPIC_MARK = "KmslabAlerting-AlertTopic"
_CLOUDTRAIL_LAG = "CloudTrail's event history can take a few minutes on AWS: run the check again shortly"


def bucket_name(env: CheckEnv) -> str:
    """The page's bucket: ``kmslab-ch09-<account>-<region>``.

    Args:
        env: Where to look.

    Returns:
        The bucket name.
    """
    return f"kmslab-ch09-{env.account()}-{env.client('kms').meta.region_name}"


def _key(env: CheckEnv) -> dict[str, Any] | None:
    try:
        return dict(env.client("kms").describe_key(KeyId=ALIAS)["KeyMetadata"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NotFoundException":
            return None
        raise


def _events(env: CheckEnv, key_arn: str) -> list[dict[str, Any]]:
    """The key's CloudTrail events (LookupEvents on the key ARN), as parsed records."""
    paginator = env.client("cloudtrail").get_paginator("lookup_events")
    attribute = {"AttributeKey": "ResourceName", "AttributeValue": key_arn}
    return [
        json.loads(event["CloudTrailEvent"])
        for page in paginator.paginate(LookupAttributes=[attribute])
        for event in page.get("Events", [])
        if event.get("CloudTrailEvent")
    ]


def key_and_object(env: CheckEnv) -> Finding:
    """alias/kmslab/ch09 names a key of your own, with an S3 object under it."""
    text = f"{ALIAS} names a key of your own, and an S3 object is encrypted under it"
    key = _key(env)
    if key is None:
        return Finding.missing(text, f"no {ALIAS}: create the key and its alias as in step 9.1")
    bucket = bucket_name(env)
    s3 = env.client("s3")
    try:
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise
        return Finding.missing(text, f"no bucket {bucket}: make it as in step 9.1")
    for item in listed:
        head = s3.head_object(Bucket=bucket, Key=item["Key"])
        if head.get("SSEKMSKeyId") == key["Arn"]:
            return Finding.done(text)
    return Finding.missing(text, f"no object of {bucket} is under {ALIAS}: aws s3 cp ... --sse-kms-key-id (step 9.1)")


def subscribed(env: CheckEnv) -> Finding:
    """An e-mail address is subscribed to the kit's alert topic."""
    text = "an e-mail address is subscribed to the kit's alert topic"
    sns = env.client("sns")
    topics = [
        t["TopicArn"]
        for page in sns.get_paginator("list_topics").paginate()
        for t in page.get("Topics", [])
        if TOPIC_MARK in t["TopicArn"]
    ]
    if not topics:
        return Finding.missing(text, "the kit's alert topic is not there: deploy the kit (chapter 1)")
    subs = sns.list_subscriptions_by_topic(TopicArn=topics[0]).get("Subscriptions", [])
    mails = [s for s in subs if s.get("Protocol") in ("email", "email-json")]
    if not mails:
        return Finding.missing(text, "aws sns subscribe --protocol email ... (step 9.2)")
    if all(s.get("SubscriptionArn") == "PendingConfirmation" for s in mails):
        return Finding.missing(text, "confirm the subscription: open AWS's confirmation e-mail and click the link")
    return Finding.done(text)


def scheduled_then_cancelled(env: CheckEnv) -> Finding:
    """The key was scheduled for deletion with a 7-day window, then the deletion was cancelled."""
    text = "the key was scheduled for deletion with a 7-day window, then the deletion was cancelled"
    key = _key(env)
    if key is None:
        return Finding.missing(text, "create the key first (step 9.1)")
    if key.get("KeyState") == "PendingDeletion":
        return Finding.missing(text, "the key is still pending deletion: aws kms cancel-key-deletion (step 9.8)")
    events = _events(env, key["Arn"])
    windows = [
        (e.get("requestParameters") or {}).get("pendingWindowInDays")
        for e in events
        if e.get("eventName") == "ScheduleKeyDeletion" and not e.get("errorCode")
    ]
    if 7 not in windows:
        return Finding.missing(text, f"no ScheduleKeyDeletion with a 7-day window yet (step 9.5); {_CLOUDTRAIL_LAG}")
    if not any(e.get("eventName") == "CancelKeyDeletion" and not e.get("errorCode") for e in events):
        return Finding.missing(text, f"no CancelKeyDeletion yet (step 9.8); {_CLOUDTRAIL_LAG}")
    return Finding.done(text)


def refused_use(env: CheckEnv) -> Finding:
    """A use while it was pending deletion was refused and recorded by CloudTrail."""
    text = "a use while it was pending deletion was refused and recorded by CloudTrail"
    key = _key(env)
    if key is None:
        return Finding.missing(text, "create the key first (step 9.1)")
    refused = [
        e
        for e in _events(env, key["Arn"])
        if e.get("errorCode") == "KMSInvalidStateException"
        and str(e.get("errorMessage", "")).endswith("is pending deletion.")
    ]
    if not refused:
        return Finding.missing(text, f"read the object while the key is pending deletion (step 9.6); {_CLOUDTRAIL_LAG}")
    return Finding.done(text)


def enabled_again(env: CheckEnv) -> Finding:
    """The key is enabled again, and the kit's data key is untouched."""
    text = "the key is enabled again, and the kit's data key is enabled and not pending deletion"
    key = _key(env)
    if key is None:
        return Finding.missing(text, "create the key first (step 9.1)")
    if key.get("KeyState") != "Enabled":
        return Finding.missing(text, f"{ALIAS} is {key.get('KeyState')}: cancel, then aws kms enable-key (step 9.8)")
    data = env.client("kms").describe_key(KeyId=DATA_ALIAS)["KeyMetadata"]
    if data.get("KeyState") != "Enabled":
        return Finding.missing(
            text, f"{DATA_ALIAS} is {data.get('KeyState')}: cancel its deletion and enable it, later pages need it"
        )
    return Finding.done(text)


CHAPTER = Chapter(
    number=9,
    title="Deleting keys safely",
    checks=(key_and_object, subscribed, scheduled_then_cancelled, refused_use, enabled_again),
)
