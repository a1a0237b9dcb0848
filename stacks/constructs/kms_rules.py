"""EventBridge rules on CloudTrail's KMS management events, from the kit's patterns (:mod:`kmslab.trail.patterns`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import aws_events as events
from constructs import Construct

__all__ = ["ALL_MANAGEMENT_EVENTS", "event_pattern", "kms_rule"]

#: Rule state that also delivers read-only management events (Decrypt, Encrypt, GenerateDataKey, ...).
ALL_MANAGEMENT_EVENTS = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"


def event_pattern(pattern: Mapping[str, Any]) -> events.EventPattern:
    """The CDK form of one of the kit's event patterns.

    Args:
        pattern: A pattern of :mod:`kmslab.trail.patterns` (``source``, ``detail-type``, ``detail``).

    Returns:
        The pattern as an ``EventPattern``.
    """
    return events.EventPattern(
        source=list(pattern["source"]), detail_type=list(pattern["detail-type"]), detail=dict(pattern["detail"])
    )


def kms_rule(
    scope: Construct,
    construct_id: str,
    *,
    pattern: Mapping[str, Any],
    description: str,
    targets: Sequence[events.IRuleTarget],
    read_only_events: bool,
) -> events.Rule:
    """A rule on KMS events of CloudTrail.

    Args:
        scope: Parent construct.
        construct_id: Construct id.
        pattern: The event pattern (:mod:`kmslab.trail.patterns`).
        description: The rule's description.
        targets: Where matching events go.
        read_only_events: Whether the pattern needs read-only management events (KMS cryptographic calls are
            read-only events, which a rule receives only in the state ``ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS``;
            CloudFormation accepts it, the L2 has no prop for it).

    Returns:
        The rule.
    """
    rule = events.Rule(
        scope, construct_id, description=description, event_pattern=event_pattern(pattern), targets=list(targets)
    )
    if read_only_events:
        resource = rule.node.default_child
        assert isinstance(resource, events.CfnRule)
        resource.add_property_override("State", ALL_MANAGEMENT_EVENTS)
    return rule
