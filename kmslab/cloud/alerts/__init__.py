"""The alert path of the local cloud: EventBridge delivery, Lambda invocation, SNS, metric-filter alarms.

:func:`attach_alerts` composes them on a built cloud's parts; ``build_cloud`` calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmslab.cloud.alerts import _moto
from kmslab.cloud.alerts.alarms import MetricAlarms
from kmslab.cloud.alerts.events import EventDelivery
from kmslab.cloud.alerts.lambda_runtime import LambdaRuntime
from kmslab.cloud.alerts.lambda_service import LambdaService
from kmslab.cloud.alerts.logs_service import CloudWatchService, LogsService
from kmslab.cloud.alerts.mail import Mailbox
from kmslab.cloud.alerts.sns import SnsPublisher, SnsService, service_caller
from kmslab.iam import CloudIdentities
from kmslab.kms import LocalKms
from kmslab.trail import TrailRecorder

__all__ = [
    "AlertPath",
    "CloudWatchService",
    "EventDelivery",
    "LambdaRuntime",
    "LambdaService",
    "LogsService",
    "Mailbox",
    "MetricAlarms",
    "SnsPublisher",
    "SnsService",
    "attach_alerts",
]


@dataclass
class AlertPath:
    """The alert path's parts.

    Args:
        runtime: runs Lambda functions.
        delivery: EventBridge delivery from the trail's bus.
        publisher: SNS publishing (KMS, Lambda and e-mail subscribers).
        alarms: metric filters and alarms.
        services: gateway modules replacing moto's for some signing names.
        put_logs: puts log events into CloudWatch Logs and runs them through the group's metric filters.
    """

    runtime: LambdaRuntime
    delivery: EventDelivery
    publisher: SnsPublisher
    alarms: MetricAlarms
    services: dict[str, Any] = field(default_factory=dict)
    put_logs: Callable[[str, str, str, str, list[tuple[int, str]]], None] | None = None

    def close(self) -> None:
        """Deliver what is queued, then stop."""
        self.delivery.close()
        self.runtime.close()
        self.alarms.close()


def attach_alerts(
    *,
    identities: CloudIdentities,
    account: str,
    kms: LocalKms,
    data_dir: Path,
    recorder: TrailRecorder,
    moto_services: dict[str, Any],
    endpoint: Callable[[], str],
    ca_bundle: Callable[[], str | None],
) -> AlertPath:
    """Build the alert path on the cloud's parts.

    Args:
        identities: the cloud's identities.
        account: its account.
        kms: the KMS engine (encrypted topics).
        data_dir: the data directory (the mailbox is ``<data-dir>/mail``).
        recorder: the trail recorder (its bus carries the CloudTrail events).
        moto_services: the moto-served gateway modules by signing name.
        endpoint: returns the cloud's URL.
        ca_bundle: returns the CA file when the cloud serves HTTPS.

    Returns:
        The alert path; put ``services`` into the gateway's map and ``close`` among the closers.
    """
    alarms_box: list[MetricAlarms] = []

    def lambda_logs(acct: str, region: str, group: str, stream: str, messages: list[tuple[int, str]]) -> None:
        _moto.logs_put(acct, region, group, stream, messages)
        for alarms in alarms_box:
            alarms.delivered(acct, region, group, messages)

    runtime = LambdaRuntime(
        identities=identities, account=account, endpoint=endpoint, ca_bundle=ca_bundle, log_sink=lambda_logs
    )

    def to_lambda(arn: str, body: str, rule_arn: str) -> None:
        runtime.invoke_for_service(arn, body.encode(), principal="events.amazonaws.com", source_arn=rule_arn)

    publisher = SnsPublisher(account=account, kms=kms, runtime=runtime, mailbox=Mailbox(data_dir / "mail"))

    def to_sns(arn: str, body: str, rule_arn: str) -> None:
        publisher.publish(arn, body, caller=service_caller("events.amazonaws.com", account))

    alarms = MetricAlarms(account=account, publisher=publisher, clock=kms.clock.now)
    alarms_box.append(alarms)
    delivery = EventDelivery(
        account,
        {"sqs": lambda arn, body, _rule: _moto.sqs_send(account, arn, body), "sns": to_sns, "lambda": to_lambda},
    )
    delivery.attach(recorder.bus)
    services = {
        "lambda": LambdaService(moto_services["lambda"], runtime),
        "sns": SnsService(moto_services["sns"], publisher),
        "logs": LogsService(moto_services["logs"], alarms),
        "monitoring": CloudWatchService(moto_services["monitoring"], alarms),
    }
    return AlertPath(runtime, delivery, publisher, alarms, services, put_logs=lambda_logs)
