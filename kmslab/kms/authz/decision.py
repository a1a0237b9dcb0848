"""AWS KMS's authorization logic, as one pure function from a request to a decision.

Order (AWS KMS developer guide, "Troubleshooting key access" / policy evaluation):

1. An applicable Deny in the key policy denies ("explicit deny in a resource-based policy").
2. An applicable Deny in one of the caller's IAM policies denies ("... in an identity-based policy").
3. Account-level actions (no key): IAM policies alone decide; the root user is always allowed.
4. The key policy names the caller (or ``*``): allowed (a caller from another account also needs
   an IAM allow).
5. The key policy names the caller's account (``arn:aws:iam::<acct>:root`` or ``"<acct>"``) and an
   IAM policy allows the action on this key: allowed.
6. A grant for the caller covers the operation and its constraints hold: allowed.
7. Otherwise denied: "no identity-based policy allows" when the key policy delegated to the
   account (step 5 failed on IAM), else "no resource-based policy allows".

The root user gets no free pass on a key whose policy does not name the account: that is the
lockout lesson (AWS Support has to recover such a key).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from kmslab.kms.authz.identities import IdentityStore
from kmslab.kms.policy import (
    NEW_GRANT_CONSTRAINTS_KEY,
    Policy,
    PolicyResult,
    StatementRef,
    encryption_context,
    evaluate_policy,
    grant_allows,
    is_root,
    may_retire,
    parse_policy,
    request_context,
)
from kmslab.kms.seams import AuthorizationRequest

#: Context key the engine sets on RetireGrant to name the grant being retired (not an AWS condition key).
RETIRE_GRANT_ID_KEY = "kms:GrantId"


def _named_by_token(grant_id: object, tokens: tuple[str, ...]) -> bool:
    """Tell whether a grant token in the request names this grant (tokens are opaque; best effort)."""
    for token in tokens:
        if token == grant_id:
            return True
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, binascii.Error):
            continue
        if f"|{grant_id}|".encode() in raw:
            return True
    return False


@dataclass(frozen=True)
class Decision:
    """The outcome of authorizing one request, with the reasons.

    Args:
        allowed: whether the request may go on.
        principal: the caller's ARN.
        action: ``kms:<Operation>``.
        resource: the key ARN, or ``*``.
        reason: one sentence saying why.
        deciding: the statements or grants that decided it.
        deny_kind: for a denial: ``explicit-resource``, ``explicit-identity``, ``implicit-resource``
            or ``implicit-identity``; None when allowed.
        skipped: statements and grants that did not apply, with why (for teaching).
    """

    allowed: bool
    principal: str
    action: str
    resource: str
    reason: str
    deciding: tuple[StatementRef, ...] = ()
    deny_kind: str | None = None
    skipped: tuple[tuple[StatementRef, str], ...] = field(default=())

    @property
    def message(self) -> str | None:
        """The AccessDeniedException message AWS KMS gives for this denial, or None when allowed."""
        if self.allowed:
            return None
        head = f"User: {self.principal} is not authorized to perform: {self.action} on resource: {self.resource}"
        return {
            "explicit-resource": f"{head} with an explicit deny in a resource-based policy",
            "explicit-identity": f"{head} with an explicit deny in an identity-based policy",
            "implicit-identity": f"{head} because no identity-based policy allows the {self.action} action",
        }.get(self.deny_kind or "", f"{head} because no resource-based policy allows the {self.action} action")

    def to_dict(self) -> dict[str, Any]:
        """Return the decision as a JSON-ready dict.

        Returns:
            The decision's fields, with the denial message.
        """
        return {
            "allowed": self.allowed,
            "decision": "ALLOW" if self.allowed else "DENY",
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "reason": self.reason,
            "deny_kind": self.deny_kind,
            "message": self.message,
            "deciding": [ref.to_dict() for ref in self.deciding],
            "not_applicable": [{**ref.to_dict(), "why": why} for ref, why in self.skipped],
        }


@lru_cache(maxsize=256)
def _key_policy(text: str) -> Policy:
    """Parse a key policy once: the engine sends the same text on every request for a key."""
    return parse_policy(text, kind="key", stored=True)


def _merge(results: list[PolicyResult]) -> PolicyResult:
    out = PolicyResult()
    for r in results:
        out.allows.extend(r.allows)
        out.denies.extend(r.denies)
        out.skipped.extend(r.skipped)
    return out


def _key_account(key_arn: str) -> str:
    parts = key_arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def decide(request: AuthorizationRequest, store: IdentityStore, *, now: datetime | None = None) -> Decision:  # noqa: C901
    """Decide a request as AWS KMS would.

    Args:
        request: the request (caller, action, key, key policy, grants, condition keys).
        store: the identities and their IAM policies.
        now: the time for ``aws:CurrentTime``/``aws:EpochTime``.

    Returns:
        The decision.

    Raises:
        MalformedPolicyDocumentException: the stored key policy does not parse.
    """
    caller = request.caller
    resource = request.key_arn or "*"
    ctx = request_context(request, now)

    def done(allowed: bool, reason: str, deciding: list[StatementRef], kind: str | None = None) -> Decision:
        return Decision(
            allowed=allowed,
            principal=caller.arn,
            action=request.action,
            resource=resource,
            reason=reason,
            deciding=tuple(deciding),
            deny_kind=kind,
            skipped=tuple(skipped),
        )

    kwargs = {"caller": caller, "action": request.action, "resource": resource, "context": ctx}
    key = PolicyResult()
    if request.key_arn is not None and request.key_policy is not None:
        key = evaluate_policy(_key_policy(request.key_policy), source="key policy", **kwargs)  # type: ignore[arg-type]
    identity = _merge(
        [
            evaluate_policy(p.policy, source=f"identity policy {p.name}", **kwargs)  # type: ignore[arg-type]
            for p in store.policies_for(caller)
        ]
    )
    skipped: list[tuple[StatementRef, str]] = [*key.skipped, *identity.skipped]

    if key.denies:
        return done(False, "a Deny statement in the key policy applies", key.denies, "explicit-resource")
    if identity.denies:
        return done(
            False, "a Deny statement in an IAM policy of the caller applies", identity.denies, "explicit-identity"
        )

    if request.key_arn is None:
        if is_root(caller):
            return done(True, "the root user may perform account-level actions", [])
        if identity.allows:
            return done(True, "an IAM policy of the caller allows this account-level action", identity.allows)
        return done(False, "no IAM policy of the caller allows this account-level action", [], "implicit-identity")

    operation = request.action.split(":", 1)[-1]
    target = request.context.get(RETIRE_GRANT_ID_KEY)
    if operation == "RetireGrant" and target is not None:
        # Who may retire a grant is set by the grant, not by policies (AWS KMS permissions reference).
        for grant in request.grants:
            if grant.get("GrantId") == target and may_retire(grant, caller, _key_account(request.key_arn)):
                ref = StatementRef(source=f"grant {target}", sid=str(target), effect="Allow")
                return done(True, "the caller is the grant's retiring principal, its grantee, or the root user", [ref])
        return done(False, f"the caller may not retire grant {target}", [], "implicit-resource")

    same_account = caller.account == _key_account(request.key_arn)
    direct = [ref for ref in key.allows if not ref.via_account]
    via_account = [ref for ref in key.allows if ref.via_account]
    # A root user has every permission in its own account, so it needs no IAM policy across accounts.
    iam_ok = bool(identity.allows) or is_root(caller)
    if direct and (same_account or iam_ok):
        return done(True, "the key policy allows the caller", direct + (identity.allows if not same_account else []))
    if via_account and identity.allows:
        return done(
            True,
            "the key policy allows the account and an IAM policy of the caller allows the action",
            via_account + identity.allows,
        )

    ec = encryption_context(request.context)
    key_spec = request.context.get("kms:KeySpec")
    requested_raw = request.context.get("kms:GrantOperations")
    requested = [requested_raw] if isinstance(requested_raw, str) else requested_raw
    new_constraints = request.context.get(NEW_GRANT_CONSTRAINTS_KEY)
    for grant in request.grants:
        ref = StatementRef(source=f"grant {grant.get('GrantId')}", sid=str(grant.get("GrantId")), effect="Allow")
        why = grant_allows(
            grant,
            caller=caller,
            operation=operation,
            encryption_context=ec,
            key_spec=key_spec,
            requested_operations=requested,
            requested_constraints=new_constraints if isinstance(new_constraints, dict) else None,
        )
        if why is None:
            token = " (named by a grant token)" if _named_by_token(grant.get("GrantId"), request.grant_tokens) else ""
            return done(True, f"a grant for the caller covers {operation}{token}", [ref])
        skipped.append((ref, why))

    if direct:
        return done(
            False,
            "the key policy allows the caller but no IAM policy in the caller's account does",
            [],
            "implicit-identity",
        )
    if via_account:
        return done(
            False,
            "the key policy lets IAM policies decide, and no IAM policy of the caller allows the action",
            via_account,
            "implicit-identity",
        )
    return done(False, "neither the key policy nor a grant allows the caller", [], "implicit-resource")
