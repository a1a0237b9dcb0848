"""The alert path of the local cloud: EventBridge delivery, Lambda invocation, SNS, metric-filter alarms.

:func:`attach_alerts` composes them on a built cloud's parts; ``build_cloud`` calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kmslab.cloud.alerts import _moto
from kmslab.cloud.alerts.events import EventDelivery
from kmslab.cloud.alerts.lambda_runtime import LambdaRuntime
from kmslab.cloud.alerts.lambda_service import LambdaService
from kmslab.iam import CloudIdentities
from kmslab.trail import TrailRecorder

__all__ = ["AlertPath", "EventDelivery", "LambdaRuntime", "LambdaService", "attach_alerts"]


@dataclass
class AlertPath:
    """The alert path's parts.

    Args:
        runtime: runs Lambda functions.
        delivery: EventBridge delivery from the trail's bus.
        services: gateway modules replacing moto's for some signing names.
    """

    runtime: LambdaRuntime
    delivery: EventDelivery
    services: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Deliver what is queued, then stop."""
        self.delivery.close()
        self.runtime.close()


def attach_alerts(
    *,
    identities: CloudIdentities,
    account: str,
    recorder: TrailRecorder,
    moto_services: dict[str, Any],
    endpoint: Callable[[], str],
    ca_bundle: Callable[[], str | None],
) -> AlertPath:
    """Build the alert path on the cloud's parts.

    Args:
        identities: the cloud's identities.
        account: its account.
        recorder: the trail recorder (its bus carries the CloudTrail events).
        moto_services: the moto-served gateway modules by signing name.
        endpoint: returns the cloud's URL.
        ca_bundle: returns the CA file when the cloud serves HTTPS.

    Returns:
        The alert path; put ``services`` into the gateway's map and ``close`` among the closers.
    """
    runtime = LambdaRuntime(identities=identities, account=account, endpoint=endpoint, ca_bundle=ca_bundle)

    def to_lambda(arn: str, body: str) -> None:
        runtime.invoke_async(arn, body.encode(), region=arn.split(":")[3])

    def to_sns(arn: str, body: str) -> None:
        from moto.sns.models import sns_backends

        sns_backends[account][arn.split(":")[3]].publish(message=body, arn=arn)

    delivery = EventDelivery(
        account, {"sqs": lambda arn, body: _moto.sqs_send(account, arn, body), "sns": to_sns, "lambda": to_lambda}
    )
    delivery.attach(recorder.bus)
    services = {"lambda": LambdaService(moto_services["lambda"], runtime)}
    return AlertPath(runtime, delivery, services)
