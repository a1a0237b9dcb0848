"""Chapter 2, Keys: one key of each kind, the symmetric key enabled again, the data key's policy intact."""

from __future__ import annotations

from typing import Any

from kmslab.guide.checks._base import Chapter, CheckEnv, Finding
from kmslab.guide.checks._policy import allows, describe, key_policy, principals, statements

SYMMETRIC, SIGNING, HMAC = "alias/workshop/symmetric", "alias/workshop/signing", "alias/workshop/hmac"
#: actions that would let a key administrator use the key, or give itself use of it
_USE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:CreateGrant", "kms:PutKeyPolicy")


def _kind(env: CheckEnv, alias: str, text: str, step: str, ok: Any) -> Finding:
    found = describe(env.client("kms"), alias)
    if found is None:
        return Finding.missing(text, f"create it (step {step})")
    if found.get("KeyManager") != "CUSTOMER" or not ok(found):
        spec, usage = found.get("KeySpec"), found.get("KeyUsage")
        return Finding.missing(text, f"{alias} is {spec} for {usage}: point it at the key of step {step}")
    return Finding.done(text)


def _symmetric(env: CheckEnv) -> Finding:
    """A customer managed symmetric encryption key."""
    return _kind(
        env,
        SYMMETRIC,
        f"{SYMMETRIC} is a customer managed SYMMETRIC_DEFAULT key for ENCRYPT_DECRYPT",
        "2.2",
        lambda m: m.get("KeySpec") == "SYMMETRIC_DEFAULT" and m.get("KeyUsage") == "ENCRYPT_DECRYPT",
    )


def _signing(env: CheckEnv) -> Finding:
    """An asymmetric signing key."""
    return _kind(
        env,
        SIGNING,
        f"{SIGNING} is an asymmetric SIGN_VERIFY key",
        "2.4",
        lambda m: m.get("KeyUsage") == "SIGN_VERIFY",
    )


def _hmac(env: CheckEnv) -> Finding:
    """An HMAC key."""
    return _kind(
        env,
        HMAC,
        f"{HMAC} is an HMAC key for GENERATE_VERIFY_MAC",
        "2.5",
        lambda m: str(m.get("KeySpec", "")).startswith("HMAC_") and m.get("KeyUsage") == "GENERATE_VERIFY_MAC",
    )


def _enabled_again(env: CheckEnv) -> Finding:
    """The symmetric key is Enabled."""
    text = f"{SYMMETRIC} is Enabled (step 2.7 disables it, then enables it again)"
    found = describe(env.client("kms"), SYMMETRIC)
    if found is None:
        return Finding.missing(text, "create it (step 2.2)")
    if found["KeyState"] != "Enabled":
        return Finding.missing(text, f'it is {found["KeyState"]}: aws kms enable-key --key-id "$SYM_KEY" (step 2.7)')
    return Finding.done(text)


def _data_key_policy(env: CheckEnv) -> Finding:
    """The kit's data key keeps administrators and users apart."""
    text = "the kit's data key policy keeps administrators and users apart"
    kms = env.client("kms")
    found = describe(kms, "alias/kmslab/data")
    if found is None:
        return Finding.missing(text, "deploy the kit (chapter 1)")
    by_sid = {s.get("Sid"): s for s in statements(key_policy(kms, found["Arn"]))}
    admin, user = by_sid.get("AllowKeyAdministration"), by_sid.get("AllowKeyUse")
    if admin is None or user is None:
        return Finding.missing(text, "the AllowKeyAdministration or AllowKeyUse statement is gone: redeploy the kit")
    both = set(principals(admin)) & set(principals(user))
    if both:
        return Finding.missing(text, f"{', '.join(sorted(both))} both administers and uses the key: redeploy the kit")
    if any(allows(admin, action) for action in _USE_ACTIONS):
        return Finding.missing(text, "AllowKeyAdministration lets administrators use the key: redeploy the kit")
    return Finding.done(text)


CHAPTER = Chapter(
    number=2,
    title="Keys",
    checks=(_symmetric, _signing, _hmac, _enabled_again, _data_key_policy),
)
