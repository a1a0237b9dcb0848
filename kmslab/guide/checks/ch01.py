"""Chapter 1, Preparation: the kit is deployed and the four profiles are who the guide says they are."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from kmslab.guide.checks._base import Chapter, CheckEnv, Finding
from kmslab.guide.checks._policy import describe

DEPLOY_HINT = "deploy the kit (step 1.2: npx cdk deploy --all, or kmslab local up -d && kmslab local deploy)"
PROFILES_HINT = "set up the profiles (step 1.3: kmslab local profiles offline, aws configure set on AWS)"


def _keys(env: CheckEnv) -> Finding:
    """The kit's keys are deployed."""
    kms = env.client("kms")
    missing = []
    for alias in ("alias/kmslab/data", "alias/kmslab/audit"):
        found = describe(kms, alias)
        if found is None or found["KeyState"] != "Enabled":
            missing.append(alias)
    if missing:
        return Finding.missing("the kit's keys alias/kmslab/data and alias/kmslab/audit are Enabled", DEPLOY_HINT)
    return Finding.done("the kit's keys alias/kmslab/data and alias/kmslab/audit are Enabled")


def _data_bucket(env: CheckEnv) -> Finding:
    """The kit's data bucket exists."""
    names = [b["Name"] for b in env.client("s3").list_buckets().get("Buckets", [])]
    if any(name.startswith("kmslabstorage-databucket") for name in names):
        return Finding.done("the kit's data bucket exists")
    return Finding.missing("the kit's data bucket exists", DEPLOY_HINT)


def _admin(env: CheckEnv) -> Finding:
    """Your current profile administers the kit's keys."""
    text = "your current profile (AWS_PROFILE=admin) may read the data key's policy"
    try:
        found = describe(env.client("kms"), "alias/kmslab/data")
        if found is None:
            return Finding.missing(text, DEPLOY_HINT)
        env.client("kms").get_key_policy(KeyId=found["Arn"], PolicyName="default")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        return Finding.missing(text, f"{code}: run 'export AWS_PROFILE=admin' (step 1.3)")
    except BotoCoreError as exc:
        return Finding.missing(text, f"{exc}; run 'export AWS_PROFILE=admin' (step 1.3)")
    return Finding.done(text)


def _role_profile(env: CheckEnv, profile: str, role: str) -> Finding:
    text = f"profile {profile} is a session of the role {role}"
    try:
        arn = str(env.client("sts", profile=profile).get_caller_identity()["Arn"])
    except ProfileNotFound:
        return Finding.missing(text, f"no profile {profile}: {PROFILES_HINT}")
    except (ClientError, BotoCoreError) as exc:
        return Finding.missing(text, f"profile {profile} does not work ({exc}): {PROFILES_HINT}")
    if f":assumed-role/{role}/" not in arn:
        return Finding.missing(text, f"profile {profile} is {arn}: give it role_arn .../role/{role} (step 1.3)")
    return Finding.done(text)


def _alice(env: CheckEnv) -> Finding:
    """Profile alice assumes the key-user role."""
    return _role_profile(env, "alice", "kmslab-key-user")


def _auditor(env: CheckEnv) -> Finding:
    """Profile auditor assumes the auditor role."""
    return _role_profile(env, "auditor", "kmslab-auditor")


def _bob(env: CheckEnv) -> Finding:
    """Profile bob works and has no KMS permission on the data key."""
    text = "profile bob works and may not use the data key"
    try:
        arn = str(env.client("sts", profile="bob").get_caller_identity()["Arn"])
    except ProfileNotFound:
        return Finding.missing(text, f"no profile bob: {PROFILES_HINT}")
    except (ClientError, BotoCoreError) as exc:
        return Finding.missing(text, f"profile bob does not work ({exc}): {PROFILES_HINT}")
    try:
        env.client("kms", profile="bob").describe_key(KeyId="alias/kmslab/data")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "AccessDeniedException":
            return Finding.done(text)
        raise
    return Finding.missing(text, f"bob ({arn}) may use the data key: give bob an identity with no KMS permission")


CHAPTER = Chapter(
    number=1,
    title="Preparation",
    checks=(_keys, _data_bucket, _admin, _alice, _bob, _auditor),
)
