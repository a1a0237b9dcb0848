"""The audit half: the CloudTrail trail, the Glue database and table, the Athena workgroup and named queries.

``AWS::CloudTrail::Trail``: ``Ref`` is the trail name, attribute ``Arn``; CreateTrail runs CloudTrail's
checks of the bucket policy and the KMS key policy where the local CloudTrail serves them, so an
insufficient policy fails the deploy as on AWS. ``IsLogging`` starts or stops logging.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from kmslab.cloud.deploy.resources import ProvisionContext, Provisioned
from kmslab.cloud.deploy.types._base import Handler, physical_name, present, tag_list

_TRAIL_FIELDS = {
    "S3BucketName": "S3BucketName",
    "S3KeyPrefix": "S3KeyPrefix",
    "SnsTopicName": "SnsTopicName",
    "IncludeGlobalServiceEvents": "IncludeGlobalServiceEvents",
    "IsMultiRegionTrail": "IsMultiRegionTrail",
    "EnableLogFileValidation": "EnableLogFileValidation",
    "CloudWatchLogsLogGroupArn": "CloudWatchLogsLogGroupArn",
    "CloudWatchLogsRoleArn": "CloudWatchLogsRoleArn",
    "KMSKeyId": "KmsKeyId",
    "IsOrganizationTrail": "IsOrganizationTrail",
}


class Trail(Handler):
    """``AWS::CloudTrail::Trail``."""

    type_name = "AWS::CloudTrail::Trail"
    served = "enforced"
    note = (
        "local CloudTrail: bucket/key/logs-role checks at create and update; no SNS, organization trails or "
        "CloudWatch Logs delivery"
    )
    immutable = frozenset({"TrailName"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        cloudtrail = ctx.client("cloudtrail")
        name = str(properties.get("TrailName") or physical_name(ctx, max_length=128))
        args = {api: properties[cfn] for cfn, api in _TRAIL_FIELDS.items() if cfn in properties}
        if properties.get("Tags"):
            args["TagsList"] = tag_list(properties)
        arn = cloudtrail.create_trail(Name=name, **args)["TrailARN"]
        self._selectors_and_logging(cloudtrail, name, {}, properties)
        return Provisioned(name, {"Arn": arn, "SnsTopicArn": ""})

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        cloudtrail = ctx.client("cloudtrail")
        changed = {api: new[cfn] for cfn, api in _TRAIL_FIELDS.items() if cfn in new and old.get(cfn) != new[cfn]}
        if changed:
            cloudtrail.update_trail(Name=physical_id, **changed)
        self._selectors_and_logging(cloudtrail, physical_id, old, new)
        arn = cloudtrail.get_trail(Name=physical_id)["Trail"]["TrailARN"]
        return Provisioned(physical_id, {"Arn": arn, "SnsTopicArn": ""})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        cloudtrail = ctx.client("cloudtrail")
        with contextlib.suppress(cloudtrail.exceptions.TrailNotFoundException):
            cloudtrail.delete_trail(Name=physical_id)

    @staticmethod
    def _selectors_and_logging(cloudtrail: Any, name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        if new.get("EventSelectors") and old.get("EventSelectors") != new.get("EventSelectors"):
            cloudtrail.put_event_selectors(TrailName=name, EventSelectors=new["EventSelectors"])
        if new.get("AdvancedEventSelectors") and old.get("AdvancedEventSelectors") != new.get("AdvancedEventSelectors"):
            cloudtrail.put_event_selectors(TrailName=name, AdvancedEventSelectors=new["AdvancedEventSelectors"])
        logging, was = bool(new.get("IsLogging")), bool(old.get("IsLogging")) if old else False
        if logging != was:
            (cloudtrail.start_logging if logging else cloudtrail.stop_logging)(Name=name)


class GlueDatabase(Handler):
    """``AWS::Glue::Database``: ``Ref`` is the database name."""

    type_name = "AWS::Glue::Database"
    served = "enforced"
    note = "moto's Glue Data Catalog"
    immutable = frozenset({"CatalogId"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        database = dict(properties["DatabaseInput"])
        database.setdefault("Name", physical_name(ctx, max_length=255, lower=True).replace("-", "_"))
        ctx.client("glue").create_database(DatabaseInput=database)
        return Provisioned(str(database["Name"]))

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        database = {**new["DatabaseInput"], "Name": new["DatabaseInput"].get("Name", physical_id)}
        ctx.client("glue").update_database(Name=physical_id, DatabaseInput=database)
        return Provisioned(physical_id)

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        glue = ctx.client("glue")
        with contextlib.suppress(glue.exceptions.EntityNotFoundException):
            glue.delete_database(Name=physical_id)


class GlueTable(Handler):
    """``AWS::Glue::Table``: ``Ref`` is the table name."""

    type_name = "AWS::Glue::Table"
    served = "enforced"
    note = "moto's Glue Data Catalog (projection is applied by Athena, issue 15)"
    immutable = frozenset({"CatalogId", "DatabaseName"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        table = dict(properties["TableInput"])
        table.setdefault("Name", physical_name(ctx, max_length=255, lower=True).replace("-", "_"))
        ctx.client("glue").create_table(DatabaseName=properties["DatabaseName"], TableInput=table)
        return Provisioned(str(table["Name"]))

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        table = {**new["TableInput"], "Name": new["TableInput"].get("Name", physical_id)}
        ctx.client("glue").update_table(DatabaseName=new["DatabaseName"], TableInput=table)
        return Provisioned(physical_id)

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        glue = ctx.client("glue")
        with contextlib.suppress(glue.exceptions.EntityNotFoundException):
            glue.delete_table(DatabaseName=properties["DatabaseName"], Name=physical_id)


class WorkGroup(Handler):
    """``AWS::Athena::WorkGroup``: ``Ref`` is the workgroup name."""

    type_name = "AWS::Athena::WorkGroup"
    served = "enforced"
    note = (
        "local Athena (persisted): enforced result location, SSE_S3/SSE_KMS result encryption and "
        "BytesScannedCutoffPerQuery apply; CSE_KMS results are refused"
    )
    immutable = frozenset({"Name"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        name = str(properties["Name"])
        args: dict[str, Any] = {"Name": name, "Configuration": properties.get("WorkGroupConfiguration", {})}
        if "Description" in properties:
            args["Description"] = properties["Description"]
        if properties.get("Tags"):
            args["Tags"] = tag_list(properties)
        athena = ctx.client("athena")
        athena.create_work_group(**args)
        if properties.get("State") == "DISABLED":
            athena.update_work_group(WorkGroup=name, State="DISABLED")
        return Provisioned(name, {"CreationTime": ""})

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        args: dict[str, Any] = {
            "WorkGroup": physical_id,
            "State": new.get("State", "ENABLED"),
            "ConfigurationUpdates": self._updates(new.get("WorkGroupConfiguration") or {}),
        }
        if "Description" in new:
            args["Description"] = new["Description"]
        ctx.client("athena").update_work_group(**args)
        return Provisioned(physical_id, {"CreationTime": ""})

    @staticmethod
    def _updates(config: Mapping[str, Any]) -> dict[str, Any]:
        """UpdateWorkGroup's ConfigurationUpdates that make the workgroup's configuration ``config``."""
        updates: dict[str, Any] = {
            k: config[k]
            for k in ("EnforceWorkGroupConfiguration", "PublishCloudWatchMetricsEnabled", "RequesterPaysEnabled")
            if k in config
        }
        if "EngineVersion" in config:
            updates["EngineVersion"] = config["EngineVersion"]
        if "BytesScannedCutoffPerQuery" in config:
            updates["BytesScannedCutoffPerQuery"] = config["BytesScannedCutoffPerQuery"]
        else:
            updates["RemoveBytesScannedCutoffPerQuery"] = True
        result = config.get("ResultConfiguration") or {}
        result_updates: dict[str, Any] = {}
        for member in ("OutputLocation", "EncryptionConfiguration", "ExpectedBucketOwner", "AclConfiguration"):
            if member in result:
                result_updates[member] = result[member]
            else:
                result_updates[f"Remove{member}"] = True
        updates["ResultConfigurationUpdates"] = result_updates
        return updates

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        recursive = bool(properties.get("RecursiveDeleteOption", False))
        ctx.client("athena").delete_work_group(WorkGroup=physical_id, RecursiveDeleteOption=recursive)


class NamedQuery(Handler):
    """``AWS::Athena::NamedQuery``: ``Ref`` is the named query's ID."""

    type_name = "AWS::Athena::NamedQuery"
    served = "enforced"
    note = "local Athena (persisted); StartQueryExecution runs its SQL on DuckDB over the Glue table, as the caller"
    immutable = frozenset({"Database", "Name", "QueryString", "WorkGroup", "Description"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        args = present(properties, "Name", "Database", "QueryString", "Description", "WorkGroup")
        args.setdefault("Name", physical_name(ctx, max_length=128))
        query_id = ctx.client("athena").create_named_query(**args)["NamedQueryId"]
        return Provisioned(query_id, {"NamedQueryId": query_id})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        ctx.client("athena").delete_named_query(NamedQueryId=physical_id)


class SsmParameter(Handler):
    """``AWS::SSM::Parameter``: ``Ref`` is the parameter name (String and StringList only, as in CloudFormation)."""

    type_name = "AWS::SSM::Parameter"
    served = "enforced"
    note = "SSM Parameter Store"
    immutable = frozenset({"Name"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        name = str(properties.get("Name") or physical_name(ctx, max_length=2048))
        self._put(ctx, name, properties, overwrite=False)
        return Provisioned(name, {"Type": properties["Type"], "Value": properties["Value"]})

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        self._put(ctx, physical_id, new, overwrite=True)
        return Provisioned(physical_id, {"Type": new["Type"], "Value": new["Value"]})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        ssm = ctx.client("ssm")
        with contextlib.suppress(ssm.exceptions.ParameterNotFound):
            ssm.delete_parameter(Name=physical_id)

    @staticmethod
    def _put(ctx: ProvisionContext, name: str, properties: Mapping[str, Any], *, overwrite: bool) -> None:
        args = {"Name": name, "Type": properties["Type"], "Value": str(properties["Value"]), "Overwrite": overwrite}
        args.update(present(properties, "Description", "AllowedPattern", "Tier", "DataType"))
        ctx.client("ssm").put_parameter(**args)
