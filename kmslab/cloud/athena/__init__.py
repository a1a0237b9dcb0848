"""Local Athena core: queries over Glue tables with partition projection, run on DuckDB.

Public API:

* :class:`AthenaStore` / :class:`AthenaBackend`: workgroups, named queries and query executions
  per account and Region (StartQueryExecution ... ListQueryExecutions);
* :func:`run_query`, :class:`ObjectSource`, :data:`TableLookup`, :class:`QueryOutcome`: one query,
  reading only the projected partitions through the caller's S3 reader;
* :func:`locations`: the S3 prefixes partition projection selects;
* :class:`ResultTable`: ColumnInfo, GetQueryResults pages, the CSV and ``.metadata`` files;
* :class:`AthenaError`: the root of every error, AWS-shaped (``code``, ``status``, ``to_response``).
"""

from __future__ import annotations

from kmslab.cloud.athena.errors import AthenaError, InvalidRequestException, QueryFailed, ResourceNotFoundException
from kmslab.cloud.athena.models import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    AthenaBackend,
    AthenaStore,
    QueryExecution,
    ResultWriter,
    WorkGroup,
)
from kmslab.cloud.athena.projection import locations
from kmslab.cloud.athena.query import ObjectSource, QueryOutcome, TableLookup, run_query
from kmslab.cloud.athena.results import ResultTable

__all__ = [
    "CANCELLED",
    "FAILED",
    "QUEUED",
    "RUNNING",
    "SUCCEEDED",
    "AthenaBackend",
    "AthenaError",
    "AthenaStore",
    "InvalidRequestException",
    "ObjectSource",
    "QueryExecution",
    "QueryFailed",
    "QueryOutcome",
    "ResourceNotFoundException",
    "ResultTable",
    "ResultWriter",
    "TableLookup",
    "WorkGroup",
    "locations",
    "run_query",
]
