"""EventBridge delivery: the cloud's CloudTrail events reach the rules moto's Events backend stores.

moto keeps the rules and targets (PutRule, PutTargets...) but never sees the cloud's own
CloudTrail events, and its EventBridge cannot invoke Lambda or publish through our SNS. This module
subscribes to the trail recorder's bus, queues each event (so a KMS call never waits for a target),
and on a worker thread matches it against the default bus's rules with the project's one matcher
(:func:`kmslab.trail.events.matches`), then delivers it to the rules' SQS, SNS and Lambda targets.

Rule state follows the EventBridge User Guide ("Receiving read-only management events from AWS
services"): ``DISABLED`` gets nothing; ``ENABLED`` gets every event except read-only management
events delivered through CloudTrail (``detail.readOnly`` true, e.g. ``DescribeKey`` or ``Decrypt``);
``ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`` gets them all.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from kmslab.trail.events import DETAIL_TYPE, EventBus, matches

log = logging.getLogger(__name__)

ALL_MANAGEMENT = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
#: a target that failed is tried this many more times when its RetryPolicy says nothing (AWS: 185)
_DEFAULT_RETRIES = 2

#: (target ARN, event JSON, rule ARN) -> None; raises on a failed delivery
Deliver = Callable[[str, str, str], None]


def is_read_only_management(event: Mapping[str, Any]) -> bool:
    """Tell whether an event is a read-only management event delivered through CloudTrail.

    Args:
        event: the EventBridge event.

    Returns:
        True for an "AWS API Call via CloudTrail" event whose record says ``readOnly: true``.
    """
    detail = event.get("detail")
    return (
        event.get("detail-type") == DETAIL_TYPE
        and isinstance(detail, Mapping)
        and detail.get("readOnly") is True
        and detail.get("managementEvent", True) is not False
    )


def rule_receives(state: str, event: Mapping[str, Any]) -> bool:
    """Tell whether a rule in ``state`` is matched against an event at all.

    Args:
        state: the rule's state.
        event: the event.

    Returns:
        True when EventBridge would match the event against such a rule.
    """
    if state == ALL_MANAGEMENT:
        return True
    return state == "ENABLED" and not is_read_only_management(event)


def target_input(target: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    """Return what EventBridge sends to a target: the event, or the target's Input / InputPath / transform.

    Args:
        target: the target as PutTargets stored it.
        event: the event.

    Returns:
        The JSON (or transformed text) sent to the target.
    """
    if "Input" in target:
        return str(target["Input"])
    if target.get("InputPath"):
        value: Any = event
        for part in str(target["InputPath"]).lstrip("$").strip(".").split("."):
            value = value.get(part) if isinstance(value, Mapping) and part else value
        return json.dumps(value)
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        return str(
            EventTemplateParser.parse(
                input_template=transformer.get("InputTemplate"),
                input_paths_map=transformer.get("InputPathsMap", {}),
                event=dict(event),  # type: ignore[arg-type]
            )
        )
    return json.dumps(event)


class EventDelivery:
    """Deliver bus events to the rules of moto's default event bus, on a worker thread.

    Args:
        account: the cloud's account.
        targets: service name (``sqs``, ``sns``, ``lambda``) -> how to deliver to such a target.
    """

    def __init__(self, account: str, targets: Mapping[str, Deliver]) -> None:
        self.account = account
        self.targets = dict(targets)
        self._queue: queue.Queue[Mapping[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="kmslab-eventbridge", daemon=True)
        self._thread.start()
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self, bus: EventBus) -> None:
        """Receive every event published on a bus.

        Args:
            bus: the recorder's bus.
        """
        self._unsubscribe = bus.subscribe(self.put)

    def put(self, event: Mapping[str, Any]) -> None:
        """Queue one event for delivery (never blocks the publisher).

        Args:
            event: the EventBridge event.
        """
        if "moto.events.models" not in sys.modules:  # no EventBridge call yet: no rule can match
            return
        self._queue.put(dict(event))

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was delivered (for tests and orderly shutdown).

        Args:
            timeout: the most seconds to wait.

        Returns:
            True when the queue emptied in time.
        """
        done = threading.Event()
        self._queue.put({"__drain__": done})
        return done.wait(timeout)

    def close(self) -> None:
        """Stop receiving, deliver what is queued, stop the worker."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            marker = event.get("__drain__")
            if isinstance(marker, threading.Event):
                marker.set()
                continue
            try:
                self.deliver(event)
            except Exception:  # one bad rule or event must not stop delivery of the others
                log.exception("EventBridge delivery of event %s failed", event.get("id"))

    def deliver(self, event: Mapping[str, Any]) -> int:
        """Match one event against the default bus's rules and deliver it to their targets.

        Args:
            event: the EventBridge event.

        Returns:
            How many target deliveries succeeded.
        """
        if "moto.events.models" not in sys.modules:  # no EventBridge call was ever made: no rule exists
            return 0
        from moto.events.models import events_backends

        region = str(event.get("region") or "us-east-1")
        if region not in events_backends[self.account]:
            return 0
        bus = events_backends[self.account][region].event_buses.get("default")
        delivered = 0
        for rule in list(bus.rules.values()) if bus is not None else []:
            if not rule_receives(str(rule.state), event):
                continue
            try:
                pattern = rule.event_pattern.get_pattern()
                if not pattern or not matches(pattern, event):
                    continue
            except ValueError as exc:
                log.warning("rule %s has a pattern the matcher cannot use: %s", rule.name, exc)
                continue
            for target in list(rule.targets):
                delivered += self._to_target(rule, target, event)
        return delivered

    def _to_target(self, rule_model: Any, target: Mapping[str, Any], event: Mapping[str, Any]) -> int:
        rule = str(rule_model.name)
        arn = str(target.get("Arn", ""))
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        deliver = self.targets.get(service)
        if deliver is None:
            log.warning("rule %s: targets of service %r are not delivered locally (%s)", rule, service, arn)
            return 0
        body = target_input(target, event)
        retries = int(target.get("RetryPolicy", {}).get("MaximumRetryAttempts", _DEFAULT_RETRIES))
        error: Exception | None = None
        for _ in range(retries + 1):
            try:
                deliver(arn, body, str(rule_model.arn))
                return 1
            except Exception as exc:  # the target refused: retry, then its DLQ
                error = exc
        dlq = str(target.get("DeadLetterConfig", {}).get("Arn", ""))
        log.warning("rule %s: delivery to %s failed (%s)", rule, arn, error)
        if dlq and "sqs" in self.targets:
            try:
                self.targets["sqs"](dlq, json.dumps(event), str(rule_model.arn))
            except Exception:
                log.exception("rule %s: the dead-letter queue %s refused the event too", rule, dlq)
        return 0
