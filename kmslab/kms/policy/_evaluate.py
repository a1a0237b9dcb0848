"""Matching one policy's statements against one request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kmslab.kms.policy._conditions import failing_condition
from kmslab.kms.policy._document import Policy, Statement
from kmslab.kms.policy._match import glob_match
from kmslab.kms.policy._principals import match_principals
from kmslab.kms.seams import Caller


@dataclass(frozen=True)
class StatementRef:
    """A statement that took part in a decision.

    Args:
        source: where it lives: ``key policy``, ``identity policy <name>`` or ``grant <id>``.
        sid: its Sid (or a position label), or the grant ID.
        effect: ``Allow`` or ``Deny``.
        via_account: a key policy statement that names the caller's account, not the caller
            (it lets IAM policies decide).
    """

    source: str
    sid: str
    effect: str
    via_account: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the reference as a JSON-ready dict.

        Returns:
            ``source``, ``sid``, ``effect``, ``via_account``.
        """
        return {"source": self.source, "sid": self.sid, "effect": self.effect, "via_account": self.via_account}


@dataclass
class PolicyResult:
    """How one policy's statements met one request.

    Args:
        allows: Allow statements that apply.
        denies: Deny statements that apply.
        skipped: statements that do not apply, with why.
    """

    allows: list[StatementRef] = field(default_factory=list)
    denies: list[StatementRef] = field(default_factory=list)
    skipped: list[tuple[StatementRef, str]] = field(default_factory=list)


def _any(patterns: tuple[str, ...], value: str, *, ignore_case: bool) -> bool:
    return any(glob_match(p, value, ignore_case=ignore_case) for p in patterns)


def _why_not(statement: Statement, action: str, resource: str | None, ctx: Mapping[str, Any]) -> str | None:
    if statement.actions is not None:
        if not _any(statement.actions, action, ignore_case=True):
            return f"Action does not match {action}"
    elif statement.not_actions is not None:
        if _any(statement.not_actions, action, ignore_case=True):
            return f"NotAction excludes {action}"
    else:
        return "the statement has no Action element (it has no effect)"
    if statement.resources is not None:
        if resource is not None and not _any(statement.resources, resource, ignore_case=False):
            return f"Resource does not match {resource}"
    elif statement.not_resources is not None:
        if resource is not None and _any(statement.not_resources, resource, ignore_case=False):
            return f"NotResource excludes {resource}"
    else:
        return "the statement has no Resource element (it has no effect)"
    failed = failing_condition(statement.condition, ctx)
    return f"Condition: {failed}" if failed else None


def evaluate_policy(
    policy: Policy,
    *,
    source: str,
    caller: Caller,
    action: str,
    resource: str | None,
    context: Mapping[str, Any],
) -> PolicyResult:
    """Find the statements of a policy that apply to a request.

    Args:
        policy: the policy.
        source: how to name the policy in the result.
        caller: who asks (matched against Principal/NotPrincipal in key policies).
        action: ``kms:<Operation>``.
        resource: the key ARN, ``*`` for account-level actions, or None to match any resource
            (the lockout check, before the key has an ARN).
        context: the request's condition keys, keyed by lower-case name.

    Returns:
        The applying Allow and Deny statements and the skipped ones with reasons.
    """
    result = PolicyResult()
    for statement in policy.statements:
        via_account = False
        reason: str | None = None
        if policy.kind == "key":
            if statement.not_principal is not None and statement.effect == "Allow":
                # Only in a policy stored before it was refused (parse_policy(stored=True)).
                reason = "Allow with NotPrincipal is not supported, so the statement has no effect"
            elif statement.principal is not None:
                hit = match_principals(statement.principal, caller)
                if hit is None:
                    reason = f"Principal does not name {caller.arn}"
                via_account = hit == "account" and statement.effect == "Allow"
            elif statement.not_principal is not None and match_principals(statement.not_principal, caller) == "direct":
                # Only a principal the element names itself is exempt. An account ARN there exempts
                # the account's root user, not every principal of the account: IAM's "NotPrincipal"
                # reference has the account listed next to the exempt user so that the account
                # check does not deny that user, while every other user of the account stays denied.
                reason = f"NotPrincipal excludes {caller.arn}"
        if reason is None:
            reason = _why_not(statement, action, resource, context)
        ref = StatementRef(source=source, sid=statement.label, effect=statement.effect, via_account=via_account)
        if reason is not None:
            result.skipped.append((ref, reason))
        elif statement.effect == "Deny":
            result.denies.append(ref)
        else:
            result.allows.append(ref)
    return result
