"""CreateTrail/UpdateTrail's check of the CloudWatch Logs role.

CloudTrail User Guide, "Sending events to CloudWatch Logs": CloudTrail assumes the role given as
``CloudWatchLogsRoleArn`` (its trust policy must let ``cloudtrail.amazonaws.com`` call
``sts:AssumeRole``; CloudTrail sends ``aws:SourceArn`` and ``aws:SourceAccount``) and, as that role,
creates the log stream ``<account>_CloudTrail_<region>`` in the log group and puts events into it
(``logs:CreateLogStream``, ``logs:PutLogEvents``). When either is not allowed, CloudTrail answers
``InvalidCloudWatchLogsRoleArnException`` with "Access denied. Verify in IAM that the role has
adequate permissions."
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from kmslab.cloud.cloudtrail.checks import SERVICE, TrailTarget
from kmslab.cloud.cloudtrail.errors import (
    InvalidCloudWatchLogsLogGroupArnException,
    InvalidCloudWatchLogsRoleArnException,
)
from kmslab.kms.errors import KmsError
from kmslab.kms.policy import Policy, evaluate_policy, parse_policy, request_context
from kmslab.kms.seams import AuthorizationRequest, Caller

DENIED = "Access denied. Verify in IAM that the role has adequate permissions."
_LOG_GROUP = re.compile(r"^arn:aws[\w-]*:logs:([\w-]+):(\d{12}):log-group:([^:]+)(?::\*)?$")
_ROLE = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$")


def _with_resource(policy: Mapping[str, Any] | str) -> Mapping[str, Any] | str:
    """A trust policy has no Resource element: the role itself is the resource, so add ``*``."""
    try:
        document = json.loads(policy) if isinstance(policy, str) else policy
    except ValueError:
        return policy  # parse_policy reports it
    if not isinstance(document, Mapping) or not isinstance(document.get("Statement"), list | dict):
        return policy
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    fixed = [
        s if not isinstance(s, Mapping) or "Resource" in s or "NotResource" in s else {**s, "Resource": "*"}
        for s in statements
    ]
    return {**document, "Statement": fixed}


def _denied(reason: str) -> InvalidCloudWatchLogsRoleArnException:
    error = InvalidCloudWatchLogsRoleArnException(DENIED)
    error.reason = reason
    return error


def check_logs_role(
    *,
    target: TrailTarget,
    role_arn: str,
    trust_policy: Mapping[str, Any] | str | Policy,
    role_policies: Iterable[Mapping[str, Any] | str | Policy],
    log_group_arn: str,
) -> None:
    """Refuse a CloudWatch Logs role CloudTrail could not use.

    Args:
        target: the trail.
        role_arn: ``CloudWatchLogsRoleArn``.
        trust_policy: the role's trust policy (a document, or already parsed with its Resource).
        role_policies: the role's identity policies (inline and attached; documents or parsed).
        log_group_arn: ``CloudWatchLogsLogGroupArn`` (``...:log-group:<name>:*``).

    Raises:
        InvalidCloudWatchLogsLogGroupArnException: the log group ARN is malformed.
        InvalidCloudWatchLogsRoleArnException: CloudTrail cannot assume the role, or the role cannot write.
    """
    group = _LOG_GROUP.match(log_group_arn)
    if not group:
        raise InvalidCloudWatchLogsLogGroupArnException("CloudWatch Logs log group ARN is invalid.")
    role = _ROLE.match(role_arn)
    if not role:
        raise _denied(f"not a role ARN: {role_arn}")
    service = Caller(arn=SERVICE, account=target.account, identity_type="AWSService", principal_id=SERVICE)
    source = {"aws:SourceArn": target.trail_arn, "aws:SourceAccount": target.account}
    try:
        trust = (
            trust_policy if isinstance(trust_policy, Policy) else parse_policy(_with_resource(trust_policy), kind="key")
        )
        identity = [p if isinstance(p, Policy) else parse_policy(p, kind="identity") for p in role_policies]
    except KmsError as exc:
        raise _denied(f"a policy is malformed: {exc}") from exc
    request = AuthorizationRequest(caller=service, action="sts:AssumeRole", region="", context=source)
    decided = evaluate_policy(
        trust, source="trust policy", caller=service, action="sts:AssumeRole", resource=role_arn,
        context=request_context(request),
    )  # fmt: skip
    if decided.denies or not decided.allows:
        raise _denied(f"the trust policy does not let {SERVICE} assume {role_arn}")
    session = Caller(
        arn=f"arn:aws:sts::{role.group(1)}:assumed-role/{role.group(2)}/CloudTrail_CloudWatchLogs_Session",
        account=role.group(1),
        identity_type="AssumedRole",
        principal_id="AROA:CloudTrail_CloudWatchLogs_Session",
        secure_transport=True,
        invoked_by=SERVICE,
    )
    region, account, name = group.groups()
    stream = f"arn:aws:logs:{region}:{account}:log-group:{name}:log-stream:{target.account}_CloudTrail_{target.region}"
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        context = request_context(AuthorizationRequest(caller=session, action=action, region=region))
        results = [
            evaluate_policy(p, source="role policy", caller=session, action=action, resource=stream, context=context)
            for p in identity
        ]
        if any(r.denies for r in results) or not any(r.allows for r in results):
            raise _denied(f"the role's policies do not allow {action} on {stream}")
