"""Forward a Region's KMS alert events to the home Region's default event bus."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from kmslab.trail.patterns import KEY_DELETION_SCHEDULED, KEY_USE_PENDING_DELETION
from stacks.constructs.kms_rules import kms_rule

__all__ = ["ForwardKmsEvents"]


class ForwardKmsEvents(Construct):
    """Two rules in this stack's Region that send the alerting stack's events to the home Region's bus.

    CloudTrail delivers a Region's events to EventBridge in that Region only; the alerting functions run in the
    home Region. A cross-Region ``EventBus`` target needs a role EventBridge assumes: one role, with a managed
    policy allowing ``events:PutEvents`` on that one bus only.

    Attributes:
        home_bus: The home Region's default event bus.
        role: The role EventBridge assumes to put the events on ``home_bus``.
        key_use_rule: Forwards KMS requests refused because the key is pending deletion.
        deletion_rule: Forwards ScheduleKeyDeletion and DisableKey.
    """

    def __init__(self, scope: Construct, construct_id: str, *, home_region: str) -> None:
        """Create the rules.

        Args:
            scope: Parent construct (a stack in another Region than ``home_region``).
            construct_id: Construct id.
            home_region: The Region whose default bus receives the events.
        """
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        bus_arn = stack.format_arn(
            service="events",
            region=home_region,
            resource="event-bus",
            resource_name="default",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        self.home_bus = events.EventBus.from_event_bus_arn(self, "HomeBus", bus_arn)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description=f"EventBridge forwards this Region's kmslab KMS alert events to {home_region}.",
        )
        iam.ManagedPolicy(
            self,
            "PutEventsHome",
            roles=[self.role],
            statements=[iam.PolicyStatement(actions=["events:PutEvents"], resources=[bus_arn])],
        )
        target = targets.EventBus(self.home_bus, role=self.role.without_policy_updates())
        self.key_use_rule = kms_rule(
            self,
            "KeyPendingDeletionUseRule",
            pattern=KEY_USE_PENDING_DELETION,
            description=f"Forward to {home_region}: KMS requests refused because the key is pending deletion",
            targets=[target],
            read_only_events=True,
        )
        self.deletion_rule = kms_rule(
            self,
            "KeyDeletionScheduledRule",
            pattern=KEY_DELETION_SCHEDULED,
            description=f"Forward to {home_region}: KMS keys scheduled for deletion or disabled",
            targets=[target],
            read_only_events=False,
        )
