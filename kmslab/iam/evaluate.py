"""Resource-policy authorization for services other than KMS: bucket policies, role trust policies.

AWS's policy evaluation logic for a request inside one account: an explicit Deny in any
applicable policy denies; otherwise the request is allowed when an identity-based policy of the
caller allows it, or when the resource-based policy allows the caller by name (or ``*``, or as a
service principal). A resource policy that names only the caller's account delegates to the
caller's IAM policies. Across accounts both sides must allow. The root user of the resource's
account has every permission that no Deny takes away. An anonymous caller is allowed only by a
resource policy statement whose principal is ``*``; a service principal (CloudTrail writing to a
bucket) by the resource policy alone.
(IAM User Guide, "Policy evaluation logic" and "Cross-account policy evaluation logic".)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kmslab.kms.authz import NamedPolicy
from kmslab.kms.policy import Policy, evaluate_policy, is_root, request_context
from kmslab.kms.seams import AuthorizationRequest, Caller

ANONYMOUS_ARN = "anonymous"


def anonymous_caller(*, source_ip: str = "127.0.0.1", secure_transport: bool = False) -> Caller:
    """Return the caller of an unsigned request.

    Args:
        source_ip: the client address.
        secure_transport: whether the request came over TLS.

    Returns:
        A Caller that no policy names except through ``"*"``.
    """
    return Caller(
        arn=ANONYMOUS_ARN,
        account="",
        identity_type="Anonymous",
        principal_id="anonymous",
        source_ip=source_ip,
        secure_transport=secure_transport,
    )


@dataclass(frozen=True)
class AccessDecision:
    """The outcome of one authorization.

    Args:
        allowed: whether the request may go on.
        explicit_deny: whether a Deny statement decided it.
        reason: one sentence saying why (for logs and teaching, not for the wire).
    """

    allowed: bool
    explicit_deny: bool = False
    reason: str = ""


def authorize_resource(
    *,
    caller: Caller,
    action: str,
    resource: str,
    resource_account: str,
    region: str,
    identity_policies: Iterable[NamedPolicy],
    resource_policy: Policy | None,
    context: Mapping[str, Any],
    now: datetime | None = None,
    resource_policy_required: bool = False,
) -> AccessDecision:
    """Decide one request on one resource with the caller's IAM policies and the resource's policy.

    Args:
        caller: who asks.
        action: the IAM action, e.g. ``s3:GetObject``.
        resource: the resource ARN.
        resource_account: the account that owns the resource.
        region: the request's region (``aws:RequestedRegion``).
        identity_policies: the caller's IAM policies.
        resource_policy: the resource's policy (kind ``key``: every statement has a principal), if any.
        context: service condition keys (e.g. ``s3:x-amz-server-side-encryption``); global keys
            come from the caller.
        now: the time for ``aws:CurrentTime``.
        resource_policy_required: the resource policy must allow, whoever asks (a role's trust
            policy: even the root user and administrators need it).

    Returns:
        The decision.
    """
    ctx = request_context(AuthorizationRequest(caller=caller, action=action, region=region, context=context), now)
    kwargs: dict[str, Any] = {"caller": caller, "action": action, "resource": resource, "context": ctx}
    anonymous = caller.arn == ANONYMOUS_ARN
    identity_allows = identity_denies = False
    if not anonymous:
        for named in identity_policies:
            result = evaluate_policy(named.policy, source=f"identity policy {named.name}", **kwargs)
            identity_allows = identity_allows or bool(result.allows)
            identity_denies = identity_denies or bool(result.denies)
    direct = via_account = resource_denies = False
    if resource_policy is not None:
        result = evaluate_policy(resource_policy, source="resource policy", **kwargs)
        resource_denies = bool(result.denies)
        direct = any(not ref.via_account for ref in result.allows)
        via_account = any(ref.via_account for ref in result.allows)
    if resource_denies or identity_denies:
        where = "the resource policy" if resource_denies else "an identity-based policy"
        return AccessDecision(False, True, f"an explicit deny in {where}")
    if caller.identity_type == "AWSService":
        # A service principal has no IAM policies: the resource policy alone lets it in.
        if direct:
            return AccessDecision(True, reason="the resource policy allows the service principal")
        return AccessDecision(False, reason="no resource policy statement names the service principal")
    if anonymous:
        if direct:
            return AccessDecision(True, reason="the resource policy allows everyone")
        return AccessDecision(False, reason="anonymous requests need a resource policy that allows everyone")
    same_account = caller.account == resource_account
    root = is_root(caller) and same_account
    if resource_policy_required:
        if direct or (via_account and (identity_allows or is_root(caller))):
            return AccessDecision(True, reason="the resource policy allows the caller")
        return AccessDecision(False, reason="the resource policy does not allow the caller")
    if same_account:
        if root or identity_allows or direct:
            return AccessDecision(True, reason="allowed by an identity-based or the resource-based policy")
        if via_account:
            return AccessDecision(False, reason="the resource policy delegates to IAM, and no IAM policy allows")
        return AccessDecision(False, reason="no identity-based or resource-based policy allows the action")
    resource_ok = direct or via_account
    caller_ok = identity_allows or is_root(caller)
    if resource_ok and caller_ok:
        return AccessDecision(True, reason="both the resource policy and the caller's account allow")
    return AccessDecision(False, reason="a cross-account request needs both the resource policy and IAM to allow")
