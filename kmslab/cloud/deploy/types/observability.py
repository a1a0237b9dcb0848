"""CloudWatch Logs log groups and metric filters, CloudWatch alarms, and the CDK's metadata resource.

``AWS::Logs::LogGroup``: ``Ref`` is the group name, attribute ``Arn``. ``AWS::CloudWatch::Alarm``:
``Ref`` is the alarm name, attribute ``Arn``. ``AWS::CDK::Metadata`` only records the CDK version
for AWS's usage analytics; nothing is made for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from kmslab.cloud.deploy.resources import ProvisionContext, Provisioned
from kmslab.cloud.deploy.types._base import Handler, physical_name, present

_ALARM_FIELDS = (
    "ActionsEnabled",
    "AlarmActions",
    "AlarmDescription",
    "ComparisonOperator",
    "DatapointsToAlarm",
    "Dimensions",
    "EvaluationPeriods",
    "ExtendedStatistic",
    "InsufficientDataActions",
    "MetricName",
    "Metrics",
    "Namespace",
    "OKActions",
    "Period",
    "Statistic",
    "Threshold",
    "TreatMissingData",
    "Unit",
)


class LogGroup(Handler):
    """``AWS::Logs::LogGroup``."""

    type_name = "AWS::Logs::LogGroup"
    served = "enforced"
    note = "moto serves the group and its events; its KMS key is not used"
    immutable = frozenset({"LogGroupName"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        logs = ctx.client("logs")
        name = str(properties.get("LogGroupName") or physical_name(ctx, max_length=512))
        args: dict[str, Any] = {"logGroupName": name}
        if "KmsKeyId" in properties:
            args["kmsKeyId"] = properties["KmsKeyId"]
        logs.create_log_group(**args)
        if "RetentionInDays" in properties:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(properties["RetentionInDays"]))
        return Provisioned(name, {"Arn": f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{name}:*"})

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        logs = ctx.client("logs")
        if old.get("RetentionInDays") != new.get("RetentionInDays"):
            if "RetentionInDays" in new:
                logs.put_retention_policy(logGroupName=physical_id, retentionInDays=int(new["RetentionInDays"]))
            else:
                logs.delete_retention_policy(logGroupName=physical_id)
        if old.get("KmsKeyId") != new.get("KmsKeyId"):
            if "KmsKeyId" in new:
                logs.associate_kms_key(logGroupName=physical_id, kmsKeyId=new["KmsKeyId"])
            else:
                logs.disassociate_kms_key(logGroupName=physical_id)
        return Provisioned(physical_id, {"Arn": f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{physical_id}:*"})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        logs = ctx.client("logs")
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            logs.delete_log_group(logGroupName=physical_id)


class MetricFilter(Handler):
    """``AWS::Logs::MetricFilter``: ``Ref`` is the filter name."""

    type_name = "AWS::Logs::MetricFilter"
    served = "enforced"
    note = "moto stores it; delivered records are matched with the Logs core and produce datapoints"
    immutable = frozenset({"FilterName", "LogGroupName"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        name = str(properties.get("FilterName") or physical_name(ctx, max_length=512))
        self._put(ctx, name, properties)
        return Provisioned(name)

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        self._put(ctx, physical_id, new)
        return Provisioned(physical_id)

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        logs = ctx.client("logs")
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            logs.delete_metric_filter(logGroupName=properties["LogGroupName"], filterName=physical_id)

    @staticmethod
    def _put(ctx: ProvisionContext, name: str, properties: Mapping[str, Any]) -> None:
        transformations = [
            {
                "metricName": t["MetricName"],
                "metricNamespace": t["MetricNamespace"],
                "metricValue": str(t["MetricValue"]),
                **({"defaultValue": float(t["DefaultValue"])} if "DefaultValue" in t else {}),
                **({"unit": t["Unit"]} if "Unit" in t else {}),
            }
            for t in properties["MetricTransformations"]
        ]
        ctx.client("logs").put_metric_filter(
            logGroupName=properties["LogGroupName"],
            filterName=name,
            filterPattern=properties.get("FilterPattern", ""),
            metricTransformations=transformations,
        )


class Alarm(Handler):
    """``AWS::CloudWatch::Alarm``."""

    type_name = "AWS::CloudWatch::Alarm"
    served = "enforced"
    note = "moto stores it; datapoints are evaluated and its SNS actions publish as CloudWatch"
    immutable = frozenset({"AlarmName"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        name = str(properties.get("AlarmName") or physical_name(ctx, max_length=255))
        self._put(ctx, name, properties)
        return Provisioned(name, {"Arn": f"arn:aws:cloudwatch:{ctx.region}:{ctx.account}:alarm:{name}"})

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        self._put(ctx, physical_id, new)
        return Provisioned(physical_id, {"Arn": f"arn:aws:cloudwatch:{ctx.region}:{ctx.account}:alarm:{physical_id}"})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        ctx.client("cloudwatch").delete_alarms(AlarmNames=[physical_id])

    @staticmethod
    def _put(ctx: ProvisionContext, name: str, properties: Mapping[str, Any]) -> None:
        args = present(properties, *_ALARM_FIELDS)
        for key in ("EvaluationPeriods", "Period", "DatapointsToAlarm"):
            if key in args:
                args[key] = int(args[key])
        if "Threshold" in args:
            args["Threshold"] = float(args["Threshold"])
        ctx.client("cloudwatch").put_metric_alarm(AlarmName=name, **args)


class CdkMetadata(Handler):
    """``AWS::CDK::Metadata``: AWS's CDK usage analytics; nothing to create."""

    type_name = "AWS::CDK::Metadata"
    served = "stored only"
    note = "the CDK's version analytics: recorded, nothing created"

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        return Provisioned(f"{ctx.stack_name}-{ctx.logical_id}")

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        return Provisioned(physical_id)

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        return None
