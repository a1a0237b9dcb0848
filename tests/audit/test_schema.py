"""One schema definition: the Glue TableInput (AWS's documented CloudTrail table) and the DuckDB columns agree."""

from __future__ import annotations

import pytest

from kmslab.audit.errors import AuditError
from kmslab.audit.schema import (
    COLUMN_NAMES,
    COLUMNS,
    INPUT_FORMAT,
    SERDE,
    Field,
    Type,
    column,
    duckdb_columns,
    glue_table_input,
    json_read_type,
)

pytestmark = pytest.mark.unit

#: The columns of AWS's "CloudTrail table with partition projection" example, in order.
AWS_COLUMNS = [
    "eventversion", "useridentity", "eventtime", "eventsource", "eventname", "awsregion", "sourceipaddress",
    "useragent", "errorcode", "errormessage", "requestparameters", "responseelements", "additionaleventdata",
    "requestid", "eventid", "readonly", "resources", "eventtype", "apiversion", "recipientaccountid",
    "serviceeventdetails", "sharedeventid", "vpcendpointid", "vpcendpointaccountid", "eventcategory", "addendum",
    "sessioncredentialfromconsole", "edgedevicedetails", "tlsdetails",
]  # fmt: skip


def test_columns_are_aws_documented_ones() -> None:
    assert list(COLUMN_NAMES) == AWS_COLUMNS


def test_glue_table_input_has_projection_in_table_parameters() -> None:
    table = glue_table_input(name="cloudtrail_logs", bucket="trail-bucket", account="111122223333", region="eu-west-1")
    parameters = table["Parameters"]
    assert isinstance(parameters, dict)
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.timestamp.type"] == "date"
    assert parameters["projection.timestamp.format"] == "yyyy/MM/dd"
    assert parameters["projection.timestamp.interval"] == "1"
    assert parameters["projection.timestamp.interval.unit"] == "DAYS"
    assert parameters["projection.timestamp.range"] == "2024/01/01,NOW"
    assert parameters["storage.location.template"] == (
        "s3://trail-bucket/AWSLogs/111122223333/CloudTrail/eu-west-1/${timestamp}"
    )
    storage = table["StorageDescriptor"]
    assert isinstance(storage, dict)
    assert "Parameters" not in storage
    assert storage["Location"] == "s3://trail-bucket/AWSLogs/111122223333/CloudTrail/eu-west-1"
    assert storage["InputFormat"] == INPUT_FORMAT == "com.amazon.emr.cloudtrail.CloudTrailInputFormat"
    assert storage["SerdeInfo"]["SerializationLibrary"] == SERDE == "org.apache.hive.hcatalog.data.JsonSerDe"
    assert table["PartitionKeys"] == [{"Name": "timestamp", "Type": "string"}]
    types = {c["Name"]: c["Type"] for c in storage["Columns"]}
    assert types["resources"] == "array<struct<arn:string,accountid:string,type:string>>"
    assert types["tlsdetails"] == "struct<tlsversion:string,ciphersuite:string,clientprovidedhostheader:string>"
    assert types["requestparameters"] == "string"
    assert (
        "sessionissuer:struct<type:string,principalid:string,arn:string,accountid:string,username:string>"
        in (types["useridentity"])
    )
    assert "webidfederationdata:struct<federatedprovider:string,attributes:map<string,string>>" in types["useridentity"]


def test_duckdb_columns_mirror_the_glue_columns() -> None:
    columns = duckdb_columns()
    assert [name for name, _ in columns] == [*AWS_COLUMNS, "timestamp"]
    kinds = dict(columns)
    assert kinds["resources"] == 'STRUCT("arn" VARCHAR, "accountid" VARCHAR, "type" VARCHAR)[]'
    assert kinds["readonly"] == "VARCHAR"
    assert kinds["useridentity"].startswith('STRUCT("type" VARCHAR, "principalid" VARCHAR')


def test_json_read_type_uses_cloudtrail_keys() -> None:
    read = json_read_type((column("useridentity"), column("resources"), column("requestid")))
    assert read.startswith('STRUCT("userIdentity" STRUCT("type" VARCHAR, "principalId" VARCHAR')
    assert '"resources" STRUCT("ARN" VARCHAR, "accountId" VARCHAR, "type" VARCHAR)[]' in read
    assert '"requestID" VARCHAR' in read


def test_invalid_definitions_are_refused() -> None:
    with pytest.raises(AuditError):
        Type("integer")
    with pytest.raises(AuditError):
        Type("struct")
    with pytest.raises(AuditError):
        Field("EventName")
    with pytest.raises(AuditError):
        column("nope")
    assert len(COLUMNS) == len(set(COLUMN_NAMES))


def test_glue_table_input_projects_a_region_enum_over_the_given_regions() -> None:
    table = glue_table_input(name="t", bucket="b", account="111122223333", regions=("us-east-1", "eu-west-1"))
    parameters = table["Parameters"]
    assert isinstance(parameters, dict)
    assert parameters["projection.region.type"] == "enum"
    assert parameters["projection.region.values"] == "us-east-1,eu-west-1"
    assert parameters["storage.location.template"] == "s3://b/AWSLogs/111122223333/CloudTrail/${region}/${timestamp}"
    assert table["PartitionKeys"] == [{"Name": "region", "Type": "string"}, {"Name": "timestamp", "Type": "string"}]
    storage = table["StorageDescriptor"]
    assert isinstance(storage, dict)
    assert storage["Location"] == "s3://b/AWSLogs/111122223333/CloudTrail"


def test_glue_table_input_needs_a_region() -> None:
    with pytest.raises(AuditError, match="region"):
        glue_table_input(name="t", bucket="b", account="111122223333")


def test_no_audit_query_filters_on_the_athena_only_region_partition() -> None:
    # The offline table has no region partition (duckdb_columns); queries filter regions on awsregion.
    import re

    from kmslab.audit.queries import load_queries

    for query in load_queries():
        assert not re.search(r"\bregion\b", query.sql.lower()), query.name
