"""Explain a decision, like IAM's policy simulator, for one principal, action and key."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kmslab.kms.authz.decision import Decision, decide
from kmslab.kms.authz.identities import IdentityStore, caller_for_arn
from kmslab.kms.seams import AuthorizationRequest, Caller


def explain(
    *,
    principal: str | Caller,
    action: str,
    store: IdentityStore,
    key_arn: str | None = None,
    key_policy: str | Mapping[str, Any] | None = None,
    grants: Sequence[Mapping[str, Any]] = (),
    context: Mapping[str, Any] | None = None,
    grant_tokens: Sequence[str] = (),
    region: str = "us-east-1",
    now: datetime | None = None,
) -> Decision:
    """Decide one hypothetical request and say why.

    Args:
        principal: the caller's ARN (root, user, role or assumed-role) or a Caller.
        action: the action; ``Decrypt`` and ``kms:Decrypt`` both work.
        store: the identities and their IAM policies.
        key_arn: the key ARN (None for account-level actions).
        key_policy: the key policy (JSON text or a dict, e.g. from a CloudFormation template).
        grants: the key's grants, ListGrants-shaped.
        context: condition keys (``kms:EncryptionContext:<k>``, ``aws:SourceIp``, ...).
        grant_tokens: grant tokens sent with the request.
        region: the request's region.
        now: the time for date condition keys.

    Returns:
        The decision, with the deciding statements and why other statements did not apply.
    """
    caller = principal if isinstance(principal, Caller) else store_caller(store, principal)
    if not action.lower().startswith("kms:"):
        action = f"kms:{action}"
    policy_text = key_policy if isinstance(key_policy, str) or key_policy is None else json.dumps(key_policy)
    request = AuthorizationRequest(
        caller=caller,
        action=action,
        region=region,
        key_arn=key_arn,
        key_policy=policy_text,
        grants=tuple(grants),
        grant_tokens=tuple(grant_tokens),
        context=dict(context or {}),
    )
    return decide(request, store, now=now)


def store_caller(store: IdentityStore, arn: str) -> Caller:
    """Return the Caller for an ARN, from the identities file when it lists the ARN.

    Args:
        store: the identities.
        arn: the principal ARN.

    Returns:
        The Caller.
    """
    identity = store.by_arn(arn)
    return identity.caller() if identity is not None and identity.arn == arn else caller_for_arn(arn)


def format_decision(decision: Decision) -> str:
    """Render a decision for a terminal.

    Args:
        decision: the decision.

    Returns:
        Several lines of text.
    """
    lines = [
        f"{'ALLOW' if decision.allowed else 'DENY'}: {decision.principal} -> {decision.action} on {decision.resource}",
        f"  why: {decision.reason}",
    ]
    if decision.message:
        lines.append(f"  AWS would say: AccessDeniedException: {decision.message}")
    for ref in decision.deciding:
        via = " (names the account: IAM policies decide)" if ref.via_account else ""
        lines.append(f"  deciding: [{ref.effect}] {ref.source}: {ref.sid}{via}")
    for ref, why in decision.skipped:
        lines.append(f"  not applicable: [{ref.effect}] {ref.source}: {ref.sid}: {why}")
    return "\n".join(lines)
