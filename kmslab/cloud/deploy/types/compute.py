"""Lambda functions (code from the assembly's assets), their permissions and async invoke settings;
EventBridge rules; DynamoDB tables.

``AWS::Lambda::Function``: ``Ref`` is the function name, attribute ``Arn``.
``AWS::Events::Rule``: ``Ref`` is the rule name, attribute ``Arn``.
``AWS::DynamoDB::Table``: ``Ref`` is the table name, attributes ``Arn`` and ``StreamArn``.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kmslab.cloud.deploy.resources import ProvisionContext, Provisioned
from kmslab.cloud.deploy.types._base import Handler, Reapply, physical_name, policy_text, present, tag_list

_FUNCTION_CONFIG = ("Description", "Handler", "MemorySize", "Role", "Runtime", "Timeout", "Layers", "Environment")


class Function(Handler):
    """``AWS::Lambda::Function``."""

    type_name = "AWS::Lambda::Function"
    served = "enforced"
    note = "moto stores it; Invoke runs Python handlers in a worker as the execution role (logs, timeout, DLQ)"
    immutable = frozenset({"FunctionName", "PackageType"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        name = str(properties.get("FunctionName") or physical_name(ctx, max_length=64))
        args: dict[str, Any] = {"FunctionName": name, "Code": _code(properties["Code"], ctx)}
        args.update(present(properties, *_FUNCTION_CONFIG))
        args.update(
            present(properties, "Architectures", "DeadLetterConfig", "LoggingConfig", "TracingConfig", "KMSKeyArn")
        )
        if properties.get("Tags"):
            args["Tags"] = {t["Key"]: t["Value"] for t in properties["Tags"]}
        arn = ctx.client("lambda").create_function(**args)["FunctionArn"]
        return Provisioned(name, {"Arn": arn})

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        lam = ctx.client("lambda")
        if old.get("Code") != new.get("Code"):
            code = _code(new["Code"], ctx)
            lam.update_function_code(FunctionName=physical_id, **code)
        config = {
            k: new[k]
            for k in (*_FUNCTION_CONFIG, "DeadLetterConfig", "LoggingConfig")
            if k in new and old.get(k) != new[k]
        }
        if config:
            lam.update_function_configuration(FunctionName=physical_id, **config)
        arn = lam.get_function(FunctionName=physical_id)["Configuration"]["FunctionArn"]
        return Provisioned(physical_id, {"Arn": arn})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        lam = ctx.client("lambda")
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_function(FunctionName=physical_id)


class Permission(Handler):
    """``AWS::Lambda::Permission``: a statement in the function's resource policy."""

    type_name = "AWS::Lambda::Permission"
    served = "enforced"
    note = "the function's resource policy: EventBridge and SNS invoke only where it allows them"
    immutable = frozenset({"Action", "FunctionName", "Principal", "SourceArn", "SourceAccount"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        sid = f"{ctx.stack_name}-{ctx.logical_id}"[:100]
        args = {
            "FunctionName": properties["FunctionName"],
            "StatementId": sid,
            "Action": properties["Action"],
            "Principal": properties["Principal"],
        }
        args.update(present(properties, "SourceArn", "SourceAccount"))
        ctx.client("lambda").add_permission(**args)
        return Provisioned(sid)

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        lam = ctx.client("lambda")
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.remove_permission(FunctionName=properties["FunctionName"], StatementId=physical_id)


class EventInvokeConfig(Reapply):
    """``AWS::Lambda::EventInvokeConfig``: retries and maximum event age of asynchronous invocations."""

    type_name = "AWS::Lambda::EventInvokeConfig"
    served = "enforced"
    note = "moto stores it; async retries follow MaximumRetryAttempts (event age is not enforced)"
    immutable = frozenset({"FunctionName", "Qualifier"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        args = {
            k: properties[k]
            for k in (
                "FunctionName",
                "Qualifier",
                "MaximumRetryAttempts",
                "MaximumEventAgeInSeconds",
                "DestinationConfig",
            )
            if k in properties
        }
        ctx.client("lambda").put_function_event_invoke_config(**args)
        return Provisioned(f"{properties['FunctionName']}:{properties.get('Qualifier', '$LATEST')}")

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        lam = ctx.client("lambda")
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_function_event_invoke_config(
                FunctionName=properties["FunctionName"], Qualifier=properties.get("Qualifier", "$LATEST")
            )


class Rule(Handler):
    """``AWS::Events::Rule`` on the default bus (or the named one), with its targets."""

    type_name = "AWS::Events::Rule"
    served = "enforced"
    note = "moto stores it; the cloud's CloudTrail events reach its SQS, SNS and Lambda targets"
    immutable = frozenset({"Name", "EventBusName"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        name = str(properties.get("Name") or physical_name(ctx, max_length=64))
        arn = self._put(ctx, name, {}, properties)
        return Provisioned(name, {"Arn": arn})

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        return Provisioned(physical_id, {"Arn": self._put(ctx, physical_id, old, new)})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        events = ctx.client("events")
        bus = properties.get("EventBusName", "default")
        ids = [t["Id"] for t in properties.get("Targets", [])]
        if ids:
            events.remove_targets(Rule=physical_id, EventBusName=bus, Ids=ids)
        events.delete_rule(Name=physical_id, EventBusName=bus)

    @staticmethod
    def _put(ctx: ProvisionContext, name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
        events = ctx.client("events")
        args: dict[str, Any] = {
            "Name": name,
            "State": new.get("State", "ENABLED"),
            "EventBusName": new.get("EventBusName", "default"),
        }
        if "EventPattern" in new:
            args["EventPattern"] = policy_text(new["EventPattern"])
        for key in ("ScheduleExpression", "Description", "RoleArn"):
            if key in new:
                args[key] = new[key]
        arn = events.put_rule(**args)["RuleArn"]
        removed = {t["Id"] for t in old.get("Targets", [])} - {t["Id"] for t in new.get("Targets", [])}
        if removed:
            events.remove_targets(Rule=name, EventBusName=args["EventBusName"], Ids=sorted(removed))
        if new.get("Targets"):
            events.put_targets(Rule=name, EventBusName=args["EventBusName"], Targets=new["Targets"])
        return str(arn)


class Table(Handler):
    """``AWS::DynamoDB::Table``."""

    type_name = "AWS::DynamoDB::Table"
    served = "enforced"
    note = "moto serves the table (the idempotency store of the handlers)"
    immutable = frozenset({"TableName", "KeySchema"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        name = str(properties.get("TableName") or physical_name(ctx, max_length=255))
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": properties.get("BillingMode", "PROVISIONED"),
        }
        if "ProvisionedThroughput" in properties:
            args["ProvisionedThroughput"] = properties["ProvisionedThroughput"]
        if "SSESpecification" in properties:
            sse = dict(properties["SSESpecification"])
            args["SSESpecification"] = {
                "Enabled": bool(sse.get("SSEEnabled", False)),
                **({"SSEType": sse["SSEType"]} if "SSEType" in sse else {}),
                **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if "KMSMasterKeyId" in sse else {}),
            }
        if properties.get("Tags"):
            args["Tags"] = tag_list(properties)
        ddb = ctx.client("dynamodb")
        table = ddb.create_table(**args)["TableDescription"]
        if "TimeToLiveSpecification" in properties:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=properties["TimeToLiveSpecification"])
        return Provisioned(name, {"Arn": table["TableArn"], "StreamArn": table.get("LatestStreamArn", "")})

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        ddb = ctx.client("dynamodb")
        if (
            old.get("TimeToLiveSpecification") != new.get("TimeToLiveSpecification")
            and "TimeToLiveSpecification" in new
        ):
            ddb.update_time_to_live(TableName=physical_id, TimeToLiveSpecification=new["TimeToLiveSpecification"])
        table = ddb.describe_table(TableName=physical_id)["Table"]
        return Provisioned(physical_id, {"Arn": table["TableArn"], "StreamArn": table.get("LatestStreamArn", "")})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        ddb = ctx.client("dynamodb")
        with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
            ddb.delete_table(TableName=physical_id)


def _code(code: Mapping[str, Any], ctx: ProvisionContext) -> dict[str, Any]:
    """The function's code as CreateFunction takes it: an inline ZipFile, or the asset the S3 key names."""
    if "ZipFile" in code:
        return {"ZipFile": _zip_text("index.py", str(code["ZipFile"]))}
    asset = ctx.asset(str(code.get("S3Key", "")))
    if asset is None:
        raise ValueError(
            f"the code s3://{code.get('S3Bucket')}/{code.get('S3Key')} is not an asset of the cloud assembly"
        )
    path = Path(asset.path)
    return {"ZipFile": _zip_dir(path) if path.is_dir() else path.read_bytes()}


def _zip_dir(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _zip_text(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()
