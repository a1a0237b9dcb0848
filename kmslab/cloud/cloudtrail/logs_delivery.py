"""CloudTrail to CloudWatch Logs: a trail's records also go to its log group, as its CloudWatch Logs role.

CloudTrail User Guide, "Sending events to CloudWatch Logs": a trail with ``CloudWatchLogsLogGroupArn``
and ``CloudWatchLogsRoleArn`` delivers the events it logs to the log group too. CloudTrail assumes the
role, creates the log stream ``<account>_CloudTrail_<region>`` in the group and puts each event as
one log event (its JSON); metric filters on the group then see them. The role is judged at every
delivery, as an assumed role would be: when its trust policy no longer lets CloudTrail assume it, or
its policies no longer allow ``logs:CreateLogStream`` and ``logs:PutLogEvents``, nothing is put and
GetTrailStatus reports ``LatestCloudWatchLogsDeliveryError``; the group must exist (CloudTrail never
creates it).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kmslab.cloud.cloudtrail.checks import TrailTarget
from kmslab.cloud.cloudtrail.errors import CloudTrailError
from kmslab.cloud.cloudtrail.logs_role import check_logs_role
from kmslab.cloud.cloudtrail.trails import Trail
from kmslab.iam import CloudIdentities

_LOGGER = logging.getLogger(__name__)
_GROUP = re.compile(r"^arn:aws[\w-]*:logs:([\w-]+):(\d{12}):log-group:([^:]+)(?::\*)?$")

#: (account, region, group, stream, [(timestamp ms, message)]) -> None: puts log events
LogsSink = Callable[[str, str, str, str, list[tuple[int, str]]], None]
#: (account, region, group) -> whether the log group exists
GroupLookup = Callable[[str, str, str], bool]


def parse_group_arn(arn: str) -> tuple[str, str, str] | None:
    """Split ``arn:aws:logs:<region>:<account>:log-group:<name>[:*]``.

    Args:
        arn: the log group ARN.

    Returns:
        ``(region, account, name)``, or None when it is not a log group ARN.
    """
    match = _GROUP.match(arn)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def moto_group_exists(account: str, region: str, group: str) -> bool:
    """Tell whether moto's CloudWatch Logs holds a log group.

    Args:
        account: the account.
        region: the Region.
        group: the group name.

    Returns:
        True when it exists.
    """
    from moto.logs.models import logs_backends

    return group in logs_backends[account][region].groups


def _event_ms(record: dict[str, Any]) -> int:
    try:
        when = datetime.strptime(str(record.get("eventTime")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        when = datetime.now(UTC)
    return int(when.timestamp() * 1000)


class LogsDelivery:
    """Puts the records a trail logs into its CloudWatch Logs group, as the trail's role.

    Args:
        identities: where the role is found.
        account: the account.
        sink: puts log events (wired to the alert path's metric filters by the cloud).
        group_exists: tells whether a log group exists.
    """

    def __init__(
        self,
        identities: CloudIdentities,
        account: str,
        *,
        sink: LogsSink | None = None,
        group_exists: GroupLookup = moto_group_exists,
    ) -> None:
        self.identities = identities
        self.account = account
        self.sink = sink
        self.group_exists = group_exists

    def deliver(self, trail: Trail, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Deliver a trail's records to its log group, when it has one.

        Args:
            trail: the trail.
            records: the records it logs (its Regions, its selectors).

        Returns:
            GetTrailStatus members to note (none when the trail has no log group).
        """
        group_arn, role_arn = trail.doc.get("CloudWatchLogsLogGroupArn"), trail.doc.get("CloudWatchLogsRoleArn")
        if not group_arn or not role_arn or not records or self.sink is None:
            return {}
        parsed = parse_group_arn(str(group_arn))
        if parsed is None:
            return {"LatestCloudWatchLogsDeliveryError": "CloudWatch Logs log group ARN is invalid."}
        region, account, name = parsed
        error = self._refusal(trail, str(role_arn), str(group_arn))
        if error is None and not self.group_exists(account, region, name):
            error = f"The log group {name} does not exist."
        if error is not None:
            _LOGGER.warning("CloudTrail could not deliver trail %s to CloudWatch Logs: %s", trail.name, error)
            return {"LatestCloudWatchLogsDeliveryError": error}
        by_region: dict[str, list[tuple[int, str]]] = {}
        for record in records:
            message = json.dumps(record, separators=(",", ":"))
            by_region.setdefault(str(record.get("awsRegion", "")), []).append((_event_ms(record), message))
        try:
            for source_region, messages in sorted(by_region.items()):
                stream = f"{self.account}_CloudTrail_{source_region}"
                self.sink(account, region, name, stream, sorted(messages, key=lambda m: m[0]))
        except Exception as exc:  # the log group refused: reported as CloudTrail reports it
            _LOGGER.warning("CloudTrail could not put events into %s: %s", name, exc)
            return {"LatestCloudWatchLogsDeliveryError": str(exc)[:200]}
        return {
            "LatestCloudWatchLogsDeliveryTime": datetime.now(UTC).timestamp(),
            "LatestCloudWatchLogsDeliveryError": None,
        }

    def _refusal(self, trail: Trail, role_arn: str, group_arn: str) -> str | None:
        role = self.identities.role(role_arn)
        if role is None:
            return f"The role {role_arn} does not exist."
        target = TrailTarget(trail.arn, str(trail.doc.get("S3BucketName", "")), trail.doc.get("S3KeyPrefix") or None)
        try:
            check_logs_role(
                target=target,
                role_arn=role_arn,
                trust_policy=role.trust_policy,
                role_policies=[named.policy for named in role.policies],
                log_group_arn=group_arn,
            )
        except CloudTrailError as exc:
            return str(getattr(exc, "reason", "") or exc.message)
        return None
