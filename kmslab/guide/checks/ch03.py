"""Chapter 3, Who may use a key: bob is kept out, the grants key, its explicit deny, and no grant left over."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from kmslab.guide.checks._base import Chapter, CheckEnv, Finding
from kmslab.guide.checks._policy import allows, describe, key_policy, principals, statements

GRANTS = "alias/workshop/grants"
KEY_USER_ROLE = "kmslab-key-user"


def _bob(env: CheckEnv) -> str:
    return str(env.client("sts", profile="bob").get_caller_identity()["Arn"])


def _grants_key(env: CheckEnv) -> tuple[Any, dict[str, Any] | None]:
    kms = env.client("kms")
    return kms, describe(kms, GRANTS)


def _bob_kept_out(env: CheckEnv) -> Finding:
    """Bob cannot use the kit's data key."""
    text = "bob cannot use the kit's data key"
    try:
        env.client("kms", profile="bob").describe_key(KeyId="alias/kmslab/data")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "AccessDeniedException":
            return Finding.done(text)
        raise
    return Finding.missing(text, "bob may use it: bob must be an identity with no KMS permission (step 1.3)")


def _alice_may_grant(env: CheckEnv) -> Finding:
    """The grants key lets alice's role create grants."""
    text = f"{GRANTS} lets alice's role create grants"
    kms, found = _grants_key(env)
    if found is None:
        return Finding.missing(text, "create the key and its alias (step 3.5)")
    for statement in statements(key_policy(kms, found["Arn"])):
        names_alice = any(p.endswith(f":role/{KEY_USER_ROLE}") for p in principals(statement))
        unconditional = "kms:GrantIsForAWSResource" not in str(statement.get("Condition", {}))
        if (
            statement.get("Effect") == "Allow"
            and names_alice
            and unconditional
            and allows(statement, "kms:CreateGrant")
        ):
            return Finding.done(text)
    return Finding.missing(
        text, f"allow {KEY_USER_ROLE} kms:CreateGrant with no condition in its key policy (step 3.5)"
    )


def _bob_denied(env: CheckEnv) -> Finding:
    """The grants key's policy denies bob kms:Decrypt explicitly."""
    text = f"the key policy of {GRANTS} denies bob kms:Decrypt explicitly"
    kms, found = _grants_key(env)
    if found is None:
        return Finding.missing(text, "create the key and its alias (step 3.5)")
    bob = _bob(env)
    for statement in statements(key_policy(kms, found["Arn"])):
        if statement.get("Effect") == "Deny" and bob in principals(statement) and allows(statement, "kms:Decrypt"):
            return Finding.done(text)
    return Finding.missing(text, "add the BobNeverDecrypts statement with put-key-policy (step 3.7)")


def _no_grant_left(env: CheckEnv) -> Finding:
    """No grant for bob is left on the grants key."""
    text = f"no grant for bob is left on {GRANTS}"
    kms, found = _grants_key(env)
    if found is None:
        return Finding.missing(text, "create the key and its alias (step 3.5)")
    bob = _bob(env)
    grants = kms.list_grants(KeyId=found["Arn"]).get("Grants", [])
    left = [g.get("Name") or g["GrantId"] for g in grants if g.get("GranteePrincipal") == bob]
    if left:
        return Finding.missing(text, f"retire or revoke {', '.join(left)} (step 3.8)")
    return Finding.done(text)


CHAPTER = Chapter(
    number=3,
    title="Who may use a key",
    checks=(_bob_kept_out, _alice_may_grant, _bob_denied, _no_grant_left),
)
