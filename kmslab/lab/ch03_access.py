"""Chapter 3 of the lab (``workshop/03-access.md``): who may use a key. Key policy, grants, an explicit Deny, explain.

Admin creates the key; Alice works through the kit's key-user role (``kmslab-key-user``), Bob is an
IAM user without KMS permissions. The cloud verifies each signature and decides every call from the
key policy, the caller's IAM policies and the grants.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from kmslab.kms.authz import Decision, explain
from kmslab.kms.authz.explain import format_decision
from kmslab.lab._steps import Fact, LabContext, Step, show_blob, show_refusal

MESSAGE = b"payroll batch 2026-01"
CONTEXT = {"purpose": "payroll"}
USER_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
GRANT_ACTIONS = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
DENY_SID = "DenyAliceDecrypt"


def key_policy(ctx: LabContext, *, deny_alice_decrypt: bool = False) -> dict[str, Any]:
    """Return the chapter's key policy: the account delegates to IAM, Alice is a key user who may grant.

    Args:
        ctx: the lab context (for the account).
        deny_alice_decrypt: add an explicit Deny of ``kms:Decrypt`` for Alice.

    Returns:
        The policy document.
    """
    alice = ctx.arn_of("alice")
    statements: list[dict[str, Any]] = [
        {
            "Sid": "EnableIAMPolicies",
            "Effect": "Allow",
            "Principal": {"AWS": ctx.arn_of("root")},
            "Action": "kms:*",
            "Resource": "*",
        },
        {"Sid": "KeyUsers", "Effect": "Allow", "Principal": {"AWS": alice}, "Action": USER_ACTIONS, "Resource": "*"},
        {
            "Sid": "KeyUsersMayGrant",
            "Effect": "Allow",
            "Principal": {"AWS": alice},
            "Action": GRANT_ACTIONS,
            "Resource": "*",
        },
    ]
    if deny_alice_decrypt:
        statements.append(
            {"Sid": DENY_SID, "Effect": "Deny", "Principal": {"AWS": alice}, "Action": "kms:Decrypt", "Resource": "*"}
        )
    return {"Version": "2012-10-17", "Id": "kmslab-lab-access", "Statement": statements}


def _explain(ctx: LabContext, who: str, action: str) -> Decision:
    """Ask the policy simulator, with the key's real policy and grants read back from the endpoint."""
    arn = ctx.need("access_key_arn")
    policy = ctx.kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]
    grants = [_wire_grant(g) for g in ctx.kms.list_grants(KeyId=arn)["Grants"]]
    return explain(
        principal=ctx.caller_arn(who),
        action=action,
        store=ctx.lab.cloud.identities,
        key_arn=arn,
        key_policy=policy,
        grants=grants,
        context={f"kms:EncryptionContext:{k}": v for k, v in CONTEXT.items()},
        now=ctx.control.now(),
    )


def _wire_grant(grant: Mapping[str, Any]) -> dict[str, Any]:
    """Return a ListGrants entry as on the wire (boto3 turns CreationDate into a datetime)."""
    out = dict(grant)
    created = out.get("CreationDate")
    if created is not None and hasattr(created, "timestamp"):
        out["CreationDate"] = created.timestamp()
    return out


def _decision_facts(decision: Decision) -> list[Fact]:
    """The decision as ``kmslab kms explain`` prints it, one fact per line."""
    return [("explain", "")] + [("", line) for line in format_decision(decision).splitlines()]


def create_key(ctx: LabContext) -> Sequence[Fact]:
    """Create the key as root; Alice encrypts with it."""
    meta = ctx.kms.create_key(Description="kmslab lab: who may use a key", Policy=json.dumps(key_policy(ctx)))[
        "KeyMetadata"
    ]
    ctx.state["access_key_arn"] = meta["Arn"]
    alice = ctx.client("alice")
    out = alice.encrypt(KeyId=meta["Arn"], Plaintext=MESSAGE, EncryptionContext=CONTEXT)
    back = alice.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=CONTEXT)
    ctx.expect(back["Plaintext"] == MESSAGE, "Alice, a key user, decrypts her own ciphertext")
    ctx.state["access_ciphertext"] = out["CiphertextBlob"]
    sids = [s["Sid"] for s in key_policy(ctx)["Statement"]]
    return [
        ("KeyId", meta["Arn"]),
        ("key policy statements", ", ".join(sids)),
        ("Alice Encrypt", f"CiphertextBlob {show_blob(out['CiphertextBlob'])}"),
        ("Alice Decrypt", "Plaintext matches"),
    ]


def bob_is_denied(ctx: LabContext) -> Sequence[Fact]:
    """Bob has no policy that allows him anything on the key."""
    arn = ctx.need("access_key_arn")
    bob = ctx.client("bob")
    refused = ctx.expect_error(
        lambda: bob.encrypt(KeyId=arn, Plaintext=MESSAGE, EncryptionContext=CONTEXT),
        "AccessDeniedException",
        message_contains=f"User: {ctx.arn_of('bob')} is not authorized to perform: kms:Encrypt on resource: {arn}",
    )
    ctx.state["bob_denied"] = {"operation": "Encrypt", "principal": ctx.arn_of("bob"), "key_arn": arn}
    return [("Bob Encrypt", show_refusal(refused))]


def alice_grants_bob(ctx: LabContext) -> Sequence[Fact]:
    """Alice creates a grant for Bob: Encrypt and Decrypt."""
    arn = ctx.need("access_key_arn")
    grant = ctx.client("alice").create_grant(
        KeyId=arn, GranteePrincipal=ctx.arn_of("bob"), Operations=["Encrypt", "Decrypt"], Name="lab-bob"
    )
    listed = ctx.kms.list_grants(KeyId=arn)["Grants"]
    mine = [g for g in listed if g["GrantId"] == grant["GrantId"]]
    ctx.expect(len(mine) == 1, "ListGrants shows the new grant")
    ctx.expect(mine[0]["GranteePrincipal"] == ctx.arn_of("bob"), "the grantee is Bob")
    ctx.expect(mine[0]["IssuingAccount"].endswith(f":{ctx.account}:root"), "the grant was issued by the account")
    ctx.expect(sorted(mine[0]["Operations"]) == ["Decrypt", "Encrypt"], f"operations, got {mine[0]['Operations']}")
    ctx.state.update(grant_id=grant["GrantId"], grant_token=grant["GrantToken"])
    return [
        ("GrantId", grant["GrantId"]),
        ("GrantToken", f"{len(grant['GrantToken'])} characters (opaque)"),
        ("ListGrants", f"GranteePrincipal {mine[0]['GranteePrincipal']}, Operations {sorted(mine[0]['Operations'])}"),
    ]


def bob_uses_grant(ctx: LabContext) -> Sequence[Fact]:
    """Bob encrypts with the grant token and decrypts; explain says the grant allowed it."""
    arn = ctx.need("access_key_arn")
    bob = ctx.client("bob")
    out = bob.encrypt(KeyId=arn, Plaintext=MESSAGE, EncryptionContext=CONTEXT, GrantTokens=[ctx.need("grant_token")])
    ctx.expect(out["KeyId"] == arn, "Bob's Encrypt succeeded under the key")
    back = bob.decrypt(CiphertextBlob=ctx.need("access_ciphertext"), EncryptionContext=CONTEXT)
    ctx.expect(back["Plaintext"] == MESSAGE, "Bob decrypts Alice's ciphertext through the grant")
    decision = _explain(ctx, "bob", "kms:Encrypt")
    ctx.expect(decision.allowed, f"explain allows Bob's Encrypt, got {decision.reason}")
    ctx.expect(
        any(ref.source.lower().startswith("grant") for ref in decision.deciding),
        f"the grant decides, got {[ref.source for ref in decision.deciding]}",
    )
    return [
        ("Bob Encrypt (with GrantTokens)", f"CiphertextBlob {show_blob(out['CiphertextBlob'])}"),
        ("Bob Decrypt (Alice's ciphertext)", "Plaintext matches"),
        *_decision_facts(decision),
    ]


def revoke(ctx: LabContext) -> Sequence[Fact]:
    """Alice revokes the grant; Bob is denied again."""
    arn = ctx.need("access_key_arn")
    ctx.client("alice").revoke_grant(KeyId=arn, GrantId=ctx.need("grant_id"))
    ctx.expect(ctx.kms.list_grants(KeyId=arn)["Grants"] == [], "ListGrants is empty")
    refused = ctx.expect_error(
        lambda: ctx.client("bob").encrypt(KeyId=arn, Plaintext=MESSAGE, GrantTokens=[ctx.need("grant_token")]),
        "AccessDeniedException",
        message_contains=f"User: {ctx.arn_of('bob')} is not authorized to perform: kms:Encrypt",
    )
    return [("RevokeGrant", "done, ListGrants is empty"), ("Bob Encrypt (same token)", show_refusal(refused))]


def explicit_deny(ctx: LabContext) -> Sequence[Fact]:
    """Add a Deny statement for Alice's Decrypt; it beats her Allow."""
    arn = ctx.need("access_key_arn")
    ctx.kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(key_policy(ctx, deny_alice_decrypt=True)))
    alice = ctx.client("alice")
    refused = ctx.expect_error(
        lambda: alice.decrypt(CiphertextBlob=ctx.need("access_ciphertext"), EncryptionContext=CONTEXT),
        "AccessDeniedException",
        message_contains="with an explicit deny in a resource-based policy",
    )
    still = alice.encrypt(KeyId=arn, Plaintext=MESSAGE, EncryptionContext=CONTEXT)
    ctx.expect(still["KeyId"] == arn, "Alice may still encrypt: the Deny names only Decrypt")
    return [
        ("PutKeyPolicy", f"added statement {DENY_SID} (Deny kms:Decrypt for Alice)"),
        ("Alice Decrypt", show_refusal(refused)),
        ("Alice Encrypt", "still allowed by KeyUsers"),
    ]


def ask_why(ctx: LabContext) -> Sequence[Fact]:
    """Explain Alice's refused Decrypt: the Deny statement decides."""
    decision = _explain(ctx, "alice", "Decrypt")
    ctx.expect(not decision.allowed, "explain denies Alice's Decrypt")
    ctx.expect(
        decision.deny_kind == "explicit-resource", f"an explicit deny in the key policy, got {decision.deny_kind}"
    )
    ctx.expect(
        [ref.sid for ref in decision.deciding] == [DENY_SID],
        f"the deciding statement is {DENY_SID}, got {[ref.sid for ref in decision.deciding]}",
    )
    return _decision_facts(decision)


STEPS: tuple[Step, ...] = (
    Step(
        "Create a key whose policy makes Alice's role a key user who may create grants",
        "The key policy decides: Alice, named in it, encrypts and decrypts.",
        create_key,
    ),
    Step(
        "Bob tries to encrypt",
        "Bob is named nowhere and no IAM policy of his allows KMS: AccessDeniedException, with AWS's message.",
        bob_is_denied,
    ),
    Step(
        "Alice grants Bob Encrypt and Decrypt",
        "A key user allowed kms:CreateGrant delegates a subset of operations on one key to one principal.",
        alice_grants_bob,
    ),
    Step(
        "Bob encrypts with the grant token",
        "A grant token makes the new grant count at once; explain shows the grant as what allowed it.",
        bob_uses_grant,
    ),
    Step(
        "Alice revokes the grant",
        "Once the grant is revoked Bob is denied again, even with the old token.",
        revoke,
    ),
    Step(
        "Add an explicit Deny for Alice's Decrypt",
        "An explicit Deny beats every Allow: Alice's Decrypt is refused, her Encrypt is not.",
        explicit_deny,
    ),
    Step(
        "Ask why Alice is refused",
        "kmslab.kms.authz.explain shows the deciding statement, like IAM's policy simulator.",
        ask_why,
    ),
)
