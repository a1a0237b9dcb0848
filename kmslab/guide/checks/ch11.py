"""Chapter 11's checkpoint: a SecureString parameter and a secret under the kit's data key, decrypted by the
services on the learner's behalf, and the data key left enabled."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from kmslab.guide.checks._base import Chapter, CheckEnv, Finding

PARAMETER = "/kmslab/ch11/db-password"
SECRET = "kmslab/ch11/api-token"  # noqa: S105 - the name of the page's secret, not a password
DATA_ALIAS = "alias/kmslab/data"


def _data_key_arn(env: CheckEnv) -> str:
    return str(env.client("kms").describe_key(KeyId=DATA_ALIAS)["KeyMetadata"]["Arn"])


def _is_data_key(env: CheckEnv, key_id: str | None) -> bool:
    """Whether a key reference (alias, ID or ARN) names the data key."""
    if not key_id:
        return False
    try:
        return str(env.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]) == _data_key_arn(env)
    except ClientError:
        return False


def parameter(env: CheckEnv) -> Finding:
    """The SecureString parameter is under the data key (read without decrypting: a check leaves no trace)."""
    text = f"{PARAMETER} is a SecureString under {DATA_ALIAS}"
    ssm = env.client("ssm")
    found = [
        p
        for page in ssm.get_paginator("describe_parameters").paginate()
        for p in page.get("Parameters", [])
        if p.get("Name") == PARAMETER
    ]
    if not found:
        return Finding.missing(text, "aws ssm put-parameter --type SecureString --key-id alias/kmslab/data (step 11.2)")
    if found[0].get("Type") != "SecureString" or not _is_data_key(env, found[0].get("KeyId")):
        return Finding.missing(text, f"it is a {found[0].get('Type')} under {found[0].get('KeyId')}: put it again")
    return Finding.done(text)


def secret(env: CheckEnv) -> Finding:
    """The secret is under the data key."""
    text = f"{SECRET} is a secret under {DATA_ALIAS}"
    sm = env.client("secretsmanager")
    try:
        described = sm.describe_secret(SecretId=SECRET)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return Finding.missing(text, "aws secretsmanager create-secret --kms-key-id alias/kmslab/data (step 11.4)")
    if not _is_data_key(env, described.get("KmsKeyId")):
        where = described.get("KmsKeyId") or "aws/secretsmanager"
        return Finding.missing(text, f"it is under {where}: aws secretsmanager update-secret --kms-key-id ...")
    return Finding.done(text)


def service_on_behalf(env: CheckEnv) -> Finding:
    """CloudTrail shows Parameter Store decrypting on the learner's behalf."""
    text = "CloudTrail shows Parameter Store decrypting on your behalf (invokedBy ssm.amazonaws.com)"
    attribute = {"AttributeKey": "EventName", "AttributeValue": "Decrypt"}
    pages = env.client("cloudtrail").get_paginator("lookup_events").paginate(LookupAttributes=[attribute])
    for page in pages:
        for event in page.get("Events", []):
            record = json.loads(event.get("CloudTrailEvent") or "{}")
            context = (record.get("requestParameters") or {}).get("encryptionContext") or {}
            if (record.get("userIdentity") or {}).get("invokedBy") == "ssm.amazonaws.com" and str(
                context.get("PARAMETER_ARN", "")
            ).endswith(f":parameter{PARAMETER}"):
                return Finding.done(text)
    return Finding.missing(
        text, "read the parameter with --with-decryption (step 11.2); CloudTrail can take minutes on AWS"
    )


def data_key_enabled(env: CheckEnv) -> Finding:
    """The kit's data key is enabled."""
    text = "the kit's data key is enabled"
    state = env.client("kms").describe_key(KeyId=DATA_ALIAS)["KeyMetadata"]["KeyState"]
    if state != "Enabled":
        return Finding.missing(text, f"it is {state}: aws kms enable-key --key-id ... (step 11.6)")
    return Finding.done(text)


CHAPTER = Chapter(
    number=11,
    title="Other services: Parameter Store and Secrets Manager",
    checks=(parameter, secret, service_on_behalf, data_key_enabled),
)
