"""The one definition of the CloudTrail table, for Athena (Glue) and for the offline engine (DuckDB).

The columns are those of the table AWS documents in "Create the table for CloudTrail logs in
Athena using partition projection" (Athena user guide), in its order and with its types. From
this single definition come:

* :func:`glue_table_input` - the Glue ``TableInput`` (the Hive JSON SerDe with CloudTrail's input
  format, as AWS's current example; partition projection on the ``region`` and ``timestamp``
  partitions in the table *Parameters*);
* :func:`duckdb_columns` and :func:`json_read_type` / :func:`view_expression` - what the offline
  engine reads from the ``.json.gz`` files and how it exposes the same column names and types.

The table covers one account and the kit's regions: AWS's example projects one region's days;
the kit adds a ``region`` partition projected as an enum of its regions (home, and the replica
region when there is one), so the queries see the replica region's KMS calls too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kmslab.audit.errors import AuditError

DEFAULT_TABLE = "cloudtrail_logs"
PARTITION_COLUMN = "timestamp"
#: The partition of the region folder (``AWSLogs/<account>/CloudTrail/<region>/``), projected as an enum.
REGION_PARTITION = "region"
# AWS's current CloudTrail table ("Create the table for CloudTrail logs in Athena using partition
# projection", Athena user guide) reads the files with CloudTrailInputFormat and parses each record with
# the Hive JSON SerDe; the legacy com.amazon.emr.hive.serde.CloudTrailSerde is no longer the documented one.
SERDE = "org.apache.hive.hcatalog.data.JsonSerDe"
INPUT_FORMAT = "com.amazon.emr.cloudtrail.CloudTrailInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PROJECTION_START = "2024/01/01"


@dataclass(frozen=True)
class Type:
    """A column type: ``string``, ``struct``, ``array`` or ``map`` (string to string).

    Args:
        kind: one of the four kinds.
        fields: the struct's fields (``struct`` only).
        element: the element type (``array`` only).
    """

    kind: str
    fields: tuple[Field, ...] = ()
    element: Type | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("string", "struct", "array", "map"):
            raise AuditError(f"unknown column type kind {self.kind!r}")
        if (self.kind == "struct") != bool(self.fields):
            raise AuditError("a struct, and only a struct, has fields")
        if (self.kind == "array") != (self.element is not None):
            raise AuditError("an array, and only an array, has an element type")

    def hive(self) -> str:
        """Return the Hive/Glue type text, e.g. ``struct<type:string,arn:string>``."""
        if self.kind == "struct":
            return "struct<" + ",".join(f"{f.name}:{f.type.hive()}" for f in self.fields) + ">"
        if self.kind == "array":
            assert self.element is not None
            return f"array<{self.element.hive()}>"
        if self.kind == "map":
            return "map<string,string>"
        return "string"

    def duckdb(self, *, source_names: bool = False) -> str:
        """Return the DuckDB type text.

        Args:
            source_names: name struct fields as the JSON keys (``invokedBy``) instead of the
                column names (``invokedby``).

        Returns:
            For example ``STRUCT("type" VARCHAR, "arn" VARCHAR)`` or ``STRUCT(...)[]``.
        """
        if self.kind == "struct":
            parts = (
                f'"{f.source if source_names else f.name}" {f.type.duckdb(source_names=source_names)}'
                for f in self.fields
            )
            return "STRUCT(" + ", ".join(parts) + ")"
        if self.kind == "array":
            assert self.element is not None
            return f"{self.element.duckdb(source_names=source_names)}[]"
        if self.kind == "map":
            return "MAP(VARCHAR, VARCHAR)"
        return "VARCHAR"


@dataclass(frozen=True)
class Field:
    """A column or struct field.

    Args:
        name: the column name in the table (lower case, as Glue stores it).
        type: its type.
        source: the key in the CloudTrail JSON record (camelCase); defaults to ``name``.
    """

    name: str
    type: Type = field(default_factory=lambda: Type("string"))
    source: str = ""

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.lower():
            raise AuditError(f"column names are lower case: {self.name!r}")
        if not self.source:
            object.__setattr__(self, "source", self.name)


STRING = Type("string")


def _s(name: str, source: str = "") -> Field:
    return Field(name, STRING, source or name)


def _struct(*fields: Field) -> Type:
    return Type("struct", fields=fields)


#: The CloudTrail table's columns, as in AWS's partition-projection example.
COLUMNS: tuple[Field, ...] = (
    _s("eventversion", "eventVersion"),
    Field(
        "useridentity",
        _struct(
            _s("type"),
            _s("principalid", "principalId"),
            _s("arn"),
            _s("accountid", "accountId"),
            _s("invokedby", "invokedBy"),
            _s("accesskeyid", "accessKeyId"),
            _s("username", "userName"),
            Field(
                "onbehalfof", _struct(_s("userid", "userId"), _s("identitystorearn", "identityStoreArn")), "onBehalfOf"
            ),
            Field(
                "sessioncontext",
                _struct(
                    Field(
                        "attributes",
                        _struct(_s("mfaauthenticated", "mfaAuthenticated"), _s("creationdate", "creationDate")),
                    ),
                    Field(
                        "sessionissuer",
                        _struct(
                            _s("type"),
                            _s("principalid", "principalId"),
                            _s("arn"),
                            _s("accountid", "accountId"),
                            _s("username", "userName"),
                        ),
                        "sessionIssuer",
                    ),
                    _s("ec2roledelivery", "ec2RoleDelivery"),
                    Field(
                        "webidfederationdata",
                        _struct(_s("federatedprovider", "federatedProvider"), Field("attributes", Type("map"))),
                        "webIdFederationData",
                    ),
                ),
                "sessionContext",
            ),
        ),
        "userIdentity",
    ),
    _s("eventtime", "eventTime"),
    _s("eventsource", "eventSource"),
    _s("eventname", "eventName"),
    _s("awsregion", "awsRegion"),
    _s("sourceipaddress", "sourceIPAddress"),
    _s("useragent", "userAgent"),
    _s("errorcode", "errorCode"),
    _s("errormessage", "errorMessage"),
    _s("requestparameters", "requestParameters"),
    _s("responseelements", "responseElements"),
    _s("additionaleventdata", "additionalEventData"),
    _s("requestid", "requestID"),
    _s("eventid", "eventID"),
    _s("readonly", "readOnly"),
    Field("resources", Type("array", element=_struct(_s("arn", "ARN"), _s("accountid", "accountId"), _s("type")))),
    _s("eventtype", "eventType"),
    _s("apiversion", "apiVersion"),
    _s("recipientaccountid", "recipientAccountId"),
    _s("serviceeventdetails", "serviceEventDetails"),
    _s("sharedeventid", "sharedEventID"),
    _s("vpcendpointid", "vpcEndpointId"),
    _s("vpcendpointaccountid", "vpcEndpointAccountId"),
    _s("eventcategory", "eventCategory"),
    Field(
        "addendum",
        _struct(
            _s("reason"),
            _s("updatedfields", "updatedFields"),
            _s("originalrequestid", "originalRequestID"),
            _s("originaleventid", "originalEventID"),
        ),
    ),
    _s("sessioncredentialfromconsole", "sessionCredentialFromConsole"),
    _s("edgedevicedetails", "edgeDeviceDetails"),
    Field(
        "tlsdetails",
        _struct(
            _s("tlsversion", "tlsVersion"),
            _s("ciphersuite", "cipherSuite"),
            _s("clientprovidedhostheader", "clientProvidedHostHeader"),
        ),
        "tlsDetails",
    ),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)


def column(name: str) -> Field:
    """Return a column by name.

    Args:
        name: the column name.

    Returns:
        The column.

    Raises:
        AuditError: there is no such column.
    """
    for candidate in COLUMNS:
        if candidate.name == name:
            return candidate
    raise AuditError(f"the CloudTrail table has no column {name!r}")


def trail_location(bucket: str, account: str, region: str | None = None) -> str:
    """Return the S3 prefix CloudTrail logs are delivered under (one region's, or every region's).

    Args:
        bucket: the trail bucket name (or a CloudFormation token).
        account: the account ID.
        region: the region, or None for the prefix above the region folders.

    Returns:
        ``s3://<bucket>/AWSLogs/<account>/CloudTrail/<region>`` (or ``.../CloudTrail``).
    """
    base = f"s3://{bucket}/AWSLogs/{account}/CloudTrail"
    return base if region is None else f"{base}/{region}"


def projection_parameters(
    location: str, *, start: str = PROJECTION_START, regions: tuple[str, ...] = ()
) -> dict[str, str]:
    """Return the partition-projection table parameters.

    Args:
        location: the prefix the template starts from: a region's prefix when ``regions`` is empty,
            else the prefix above the region folders (see :func:`trail_location`).
        start: the first day of the projected range, ``yyyy/MM/dd``.
        regions: the regions of the ``region`` enum partition; empty for ``timestamp`` only.

    Returns:
        The ``projection.*`` and ``storage.location.template`` parameters.
    """
    parameters = {"projection.enabled": "true"}
    template = location
    if regions:
        parameters["projection.region.type"] = "enum"
        parameters["projection.region.values"] = ",".join(regions)
        template += "/${region}"
    parameters.update(
        {
            "projection.timestamp.type": "date",
            "projection.timestamp.format": "yyyy/MM/dd",
            "projection.timestamp.interval": "1",
            "projection.timestamp.interval.unit": "DAYS",
            "projection.timestamp.range": f"{start},NOW",
            "storage.location.template": template + "/${timestamp}",
        }
    )
    return parameters


def glue_table_input(
    *,
    name: str,
    bucket: str,
    account: str,
    region: str | None = None,
    regions: tuple[str, ...] = (),
    start: str = PROJECTION_START,
) -> dict[str, object]:
    """Return the Glue ``TableInput`` of the CloudTrail table (CloudFormation/Glue API shape).

    Args:
        name: the table name.
        bucket: the trail bucket name (or a token).
        account: the account ID (or a token).
        region: one region (AWS's example: ``timestamp`` partition only); ignored when ``regions`` is set.
        regions: the regions of a ``region`` enum partition (the kit's regions).
        start: the first projected day.

    Returns:
        A dict with ``Name``, ``TableType``, ``Parameters`` (projection here, not in the storage
        descriptor), ``PartitionKeys`` and ``StorageDescriptor``.

    Raises:
        AuditError: neither ``region`` nor ``regions`` is given.
    """
    if not regions and region is None:
        raise AuditError("the CloudTrail table needs a region or a list of regions")
    location = trail_location(bucket, account, None if regions else region)
    parameters = {
        "EXTERNAL": "TRUE",
        "classification": "cloudtrail",
        **projection_parameters(location, start=start, regions=regions),
    }
    partitions = [{"Name": REGION_PARTITION, "Type": "string"}] if regions else []
    partitions.append({"Name": PARTITION_COLUMN, "Type": "string"})
    scope = "the kit's regions" if regions else "one region"
    return {
        "Name": name,
        "Description": f"CloudTrail logs (KMS calls included), {scope}, partitioned by day with projection",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "PartitionKeys": partitions,
        "StorageDescriptor": {
            "Columns": [{"Name": c.name, "Type": c.type.hive()} for c in COLUMNS],
            "Location": location,
            "InputFormat": INPUT_FORMAT,
            "OutputFormat": OUTPUT_FORMAT,
            "SerdeInfo": {"SerializationLibrary": SERDE},
        },
    }


def duckdb_columns() -> list[tuple[str, str]]:
    """Return the offline table's columns and DuckDB types, the partition column last.

    The offline table has the ``timestamp`` partition only: a local trail is one account's files, and
    the ``awsregion`` column carries the record's region. The audit queries therefore filter regions on
    ``awsregion``, never on the Athena table's ``region`` partition (a test checks that).

    Returns:
        ``[(name, duckdb_type), ...]`` with the same names as the Athena table.
    """
    return [(c.name, c.type.duckdb()) for c in COLUMNS] + [(PARTITION_COLUMN, "VARCHAR")]


def json_read_type(columns: tuple[Field, ...] = COLUMNS) -> str:
    """Return the DuckDB type to read a log file's ``Records`` array with, JSON keys as field names.

    Args:
        columns: the columns to read (the engine reads only those a query needs).

    Returns:
        ``STRUCT("eventVersion" VARCHAR, ...)[]``.
    """
    return Type("struct", fields=columns).duckdb(source_names=True) + "[]"


def _member(source: str, key: str) -> str:
    return source + '."' + key + '"'


def view_expression(col: Field, source: str) -> str:
    """Return the DuckDB expression that turns a read JSON field into the table's column.

    Args:
        col: the column (or nested field).
        source: the SQL expression of the raw value (keyed by JSON names).

    Returns:
        An expression of type ``col.type.duckdb()``.
    """
    kind = col.type.kind
    if kind == "struct":
        packed = ", ".join(f'"{f.name}" := {view_expression(f, _member(source, f.source))}' for f in col.type.fields)
        return f"CASE WHEN {source} IS NULL THEN NULL ELSE struct_pack({packed}) END"
    if kind == "array":
        element = col.type.element
        assert element is not None
        inner = view_expression(Field(col.name, element, col.source), "x")
        return f"list_transform({source}, lambda x: {inner})"
    return source
