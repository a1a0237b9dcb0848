"""Explain a decision, like IAM's policy simulator, for one principal, action and key."""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kmslab.kms._validation import service_model
from kmslab.kms.authz.decision import Decision, decide
from kmslab.kms.authz.errors import ExplainError
from kmslab.kms.authz.identities import IdentityStore, caller_for_arn
from kmslab.kms.seams import AuthorizationRequest, Caller

# AWS KMS permissions reference: every API operation is a ``kms:`` action except ReEncrypt, which
# needs kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the destination key; and
# kms:SynchronizeMultiRegionKey is a permission with no API operation of its own.
_PERMISSION_ONLY = ("ReEncryptFrom", "ReEncryptTo", "SynchronizeMultiRegionKey")
_NOT_ACTIONS = {"ReEncrypt": "kms:ReEncryptFrom (source key) and kms:ReEncryptTo (destination key)"}


@functools.cache
def _kms_actions() -> dict[str, str]:
    """Lower-case action name -> its canonical spelling (IAM compares actions without regard to case)."""
    names = [op for op in service_model()["operations"] if op not in _NOT_ACTIONS] + list(_PERMISSION_ONLY)
    return {f"kms:{name}".lower(): f"kms:{name}" for name in names}


def kms_action(action: str) -> str:
    """Return the canonical ``kms:<Name>`` of an action, refusing one AWS KMS does not have.

    Args:
        action: ``Decrypt``, ``kms:Decrypt`` or any case of them.

    Returns:
        The action as AWS spells it, e.g. ``kms:Decrypt``.

    Raises:
        ExplainError: the action is not a KMS permission (one line, with the nearest names).
    """
    text = action.strip()
    full = text if ":" in text else f"kms:{text}"
    known = _kms_actions()
    canonical = known.get(full.lower())
    if canonical is not None:
        return canonical
    service, _, name = full.partition(":")
    if service.lower() != "kms":
        raise ExplainError(f"{action!r} is not a KMS action: explain decides kms:* actions only")
    if "*" in name or "?" in name:
        raise ExplainError(f"{action!r} is a pattern: explain decides one request, so give one action")
    if name in _NOT_ACTIONS or name.lower() in {n.lower() for n in _NOT_ACTIONS}:
        plain = next(n for n in _NOT_ACTIONS if n.lower() == name.lower())
        raise ExplainError(f"kms:{plain} is not an IAM action: {plain} is authorized as {_NOT_ACTIONS[plain]}")
    names = {key.removeprefix("kms:"): value for key, value in known.items()}
    close = difflib.get_close_matches(name.lower(), list(names), n=3, cutoff=0.75)
    hint = f" (did you mean {', '.join(names[c] for c in close)}?)" if close else ""
    raise ExplainError(f"unknown action {action!r}: AWS KMS has no such operation or permission{hint}")


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

    Raises:
        ExplainError: the action is not a KMS action.
    """
    action = kms_action(action)
    caller = principal if isinstance(principal, Caller) else store_caller(store, principal)
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
    if not decision.deciding:
        lines.append(f"  deciding: {_nothing_decided(decision)}")
    for ref, why in decision.skipped:
        lines.append(f"  not applicable: [{ref.effect}] {ref.source}: {ref.sid}: {why}")
    return "\n".join(lines)


def _nothing_decided(decision: Decision) -> str:
    """Say what decided a decision that no statement or grant decided."""
    if decision.allowed:
        return "no statement: the root user holds every permission in its own account"
    return f"no statement or grant allows {decision.action} here, so it is denied by default (an implicit deny)"
