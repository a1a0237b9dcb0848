"""State per account and Region: workgroups, named queries and query executions.

Query executions follow Athena's states, QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED
(``QueryExecutionStatus``). StartQueryExecution queues the query and hands it to an executor (or
runs it before returning when there is none); StopQueryExecution cancels a queued or running query
and is a no-op on a finished one. The gateway supplies, per request, how S3 is read and written as
the caller and how the Glue catalog is looked up; nothing here knows HTTP.

The value objects live apart: :class:`WorkGroup` in :mod:`kmslab.cloud.athena.workgroups`,
:class:`QueryExecution` and its states in :mod:`kmslab.cloud.athena.executions` (both re-exported here).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from kmslab.cloud.athena.errors import InvalidRequestException, QueryFailed
from kmslab.cloud.athena.executions import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, QueryExecution
from kmslab.cloud.athena.projection import split_location
from kmslab.cloud.athena.query import ObjectSource, TableLookup, run_query
from kmslab.cloud.athena.workgroups import MIN_BYTES_CUTOFF, WorkGroup

__all__ = [
    "CANCELLED",
    "FAILED",
    "MIN_BYTES_CUTOFF",
    "NO_OUTPUT",
    "QUEUED",
    "RUNNING",
    "SUCCEEDED",
    "AthenaBackend",
    "AthenaStore",
    "QueryExecution",
    "ResultWriter",
    "WorkGroup",
]

NO_OUTPUT = (
    "No output location provided. An output location is required either through the Workgroup "
    "result configuration setting or as an API input."
)
#: ``(bucket, key, body, content_type, EncryptionConfiguration or None)``; raises PermissionError when refused.
ResultWriter = Callable[[str, str, bytes, str, Mapping[str, Any] | None], None]


@dataclass
class AthenaBackend:
    """One account's and Region's Athena.

    Args:
        account: the account ID.
        region: the Region.
        executor: runs queries in the background; None runs them inside StartQueryExecution.
        today: the day ``current_date`` stands for (default: today, UTC).
    """

    account: str
    region: str
    executor: Executor | None = None
    today: Callable[[], date] = field(default=lambda: datetime.now(UTC).date())
    workgroups: dict[str, WorkGroup] = field(default_factory=lambda: {"primary": WorkGroup("primary")})
    named_queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    executions: dict[str, QueryExecution] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- workgroups and named queries ------------------------------------------------------

    def create_work_group(
        self, name: str, configuration: Mapping[str, Any] | None = None, description: str = ""
    ) -> None:
        """CreateWorkGroup.

        Raises:
            InvalidRequestException: the name is taken or the configuration is invalid.
        """
        group = WorkGroup(name, dict(configuration or {}), description)
        with self._lock:
            if name in self.workgroups:
                raise InvalidRequestException("WorkGroup is already created")
            self.workgroups[name] = group

    def get_work_group(self, name: str) -> WorkGroup:
        """GetWorkGroup.

        Raises:
            InvalidRequestException: no such workgroup (Athena's error for it).
        """
        group = self.workgroups.get(name)
        if group is None:
            raise InvalidRequestException(f"WorkGroup {name} is not found.")
        return group

    def list_work_groups(self) -> list[dict[str, Any]]:
        """ListWorkGroups: ``WorkGroups`` summaries, by name."""
        return [
            {"Name": g.name, "State": g.state, "Description": g.description, "CreationTime": g.created}
            for _, g in sorted(self.workgroups.items())
        ]

    def create_named_query(
        self, *, name: str, database: str, query: str, description: str = "", workgroup: str = "primary"
    ) -> str:
        """CreateNamedQuery: return the NamedQueryId."""
        self.get_work_group(workgroup)
        if not name or not database or not query:
            raise InvalidRequestException("Name, Database and QueryString are required")
        query_id = str(uuid.uuid4())
        with self._lock:
            self.named_queries[query_id] = {
                "Name": name,
                "Description": description,
                "Database": database,
                "QueryString": query,
                "NamedQueryId": query_id,
                "WorkGroup": workgroup,
            }
        return query_id

    def put_work_group(self, group: WorkGroup) -> None:
        """Store a workgroup as it is, new or replacing one (UpdateWorkGroup, restoring saved state)."""
        with self._lock:
            self.workgroups[group.name] = group

    def delete_work_group(self, name: str, *, recursive: bool = False) -> list[str]:
        """DeleteWorkGroup: remove a workgroup (and, recursively, its named queries and executions).

        Returns:
            The IDs of the named queries removed with it.

        Raises:
            InvalidRequestException: no such workgroup, ``primary``, or not empty without ``recursive``.
        """
        self.get_work_group(name)
        if name == "primary":
            raise InvalidRequestException("Cannot delete primary workgroup")
        with self._lock:
            named = [i for i, q in self.named_queries.items() if q["WorkGroup"] == name]
            runs = [i for i, e in self.executions.items() if e.workgroup == name]
            if (named or runs) and not recursive:
                raise InvalidRequestException(
                    f"WorkGroup {name} is not empty; set RecursiveDeleteOption to delete it with its contents"
                )
            for query_id in named:
                del self.named_queries[query_id]
            for execution_id in runs:
                self.executions[execution_id].cancel.set()
                del self.executions[execution_id]
            del self.workgroups[name]
        return named

    def put_named_query(self, query: Mapping[str, Any]) -> None:
        """Store a named query as it is (restoring saved state)."""
        with self._lock:
            self.named_queries[str(query["NamedQueryId"])] = dict(query)

    def delete_named_query(self, query_id: str) -> None:
        """DeleteNamedQuery.

        Raises:
            InvalidRequestException: no such named query.
        """
        self.get_named_query(query_id)
        with self._lock:
            self.named_queries.pop(query_id, None)

    def get_named_query(self, query_id: str) -> dict[str, Any]:
        """GetNamedQuery.

        Raises:
            InvalidRequestException: no such named query.
        """
        found = self.named_queries.get(query_id)
        if found is None:
            raise InvalidRequestException(f"NamedQuery {query_id} was not found")
        return dict(found)

    def list_named_queries(self, workgroup: str = "primary") -> list[str]:
        """ListNamedQueries: the IDs of a workgroup's named queries."""
        self.get_work_group(workgroup)
        return [q["NamedQueryId"] for q in self.named_queries.values() if q["WorkGroup"] == workgroup]

    def batch_get_named_query(self, ids: list[str]) -> dict[str, Any]:
        """BatchGetNamedQuery: found queries and ``UnprocessedNamedQueryIds``."""
        found = [dict(self.named_queries[i]) for i in ids if i in self.named_queries]
        missing = [
            {"NamedQueryId": i, "ErrorCode": "INVALID_INPUT", "ErrorMessage": "Named query not found"}
            for i in ids
            if i not in self.named_queries
        ]
        return {"NamedQueries": found, "UnprocessedNamedQueryIds": missing}

    # -- query executions -------------------------------------------------------------------

    def start_query_execution(
        self,
        query: str,
        *,
        catalog: TableLookup,
        source: ObjectSource,
        writer: ResultWriter,
        database: str | None = None,
        workgroup: str = "primary",
        result_configuration: Mapping[str, Any] | None = None,
    ) -> str:
        """StartQueryExecution: queue a query and start it.

        With an enforced workgroup configuration, the workgroup's output location and encryption
        win over the request's (Athena's "Workgroup settings override client-side settings").

        Args:
            query: the query text.
            catalog: the Glue lookup.
            source: reads S3 as the caller.
            writer: writes the result files as the caller.
            database: QueryExecutionContext.Database.
            workgroup: the workgroup.
            result_configuration: the request's ResultConfiguration.

        Returns:
            The QueryExecutionId.

        Raises:
            InvalidRequestException: no such workgroup, no output location, or an empty query.
        """
        group = self.get_work_group(workgroup)
        if group.state != "ENABLED":
            raise InvalidRequestException(f"WorkGroup {workgroup} is disabled.")
        if not query.strip():
            raise InvalidRequestException("QueryString must not be empty")
        group_result = dict(group.configuration.get("ResultConfiguration") or {})
        client = dict(result_configuration or {})
        chosen = {**client, **group_result} if group.enforced else {**group_result, **client}
        location = chosen.get("OutputLocation")
        if not location:
            raise InvalidRequestException(NO_OUTPUT)
        execution_id = str(uuid.uuid4())
        execution = QueryExecution(
            execution_id,
            query,
            database,
            workgroup,
            str(location).rstrip("/") + f"/{execution_id}.csv",
            chosen.get("EncryptionConfiguration"),
        )
        with self._lock:
            self.executions[execution_id] = execution
        cutoff = group.configuration.get("BytesScannedCutoffPerQuery")

        def job() -> None:
            self._run(execution, catalog=catalog, source=source, writer=writer, cutoff=cutoff)

        if self.executor is None:
            job()
        else:
            self.executor.submit(job)
        return execution_id

    def _finish(
        self, execution: QueryExecution, state: str, reason: str | None = None, category: int | None = None
    ) -> None:
        with self._lock:
            if execution.state in (SUCCEEDED, FAILED, CANCELLED):
                return
            execution.state, execution.reason, execution.error_category = state, reason, category
            execution.completed = datetime.now(UTC)

    def _run(
        self,
        execution: QueryExecution,
        *,
        catalog: TableLookup,
        source: ObjectSource,
        writer: ResultWriter,
        cutoff: int | None,
    ) -> None:
        with self._lock:
            if execution.state != QUEUED:
                return
            execution.state = RUNNING
        try:
            outcome = run_query(
                execution.query,
                database=execution.database,
                catalog=catalog,
                source=source,
                today=self.today(),
                bytes_cutoff=cutoff,
                cancelled=execution.cancel.is_set,
            )
            execution.scanned = outcome.data_scanned
            bucket, key = split_location(execution.output)
            try:
                writer(bucket, key, outcome.result.csv(), "text/csv", execution.encryption)
                metadata = outcome.result.metadata(data_scanned=outcome.data_scanned)
                writer(bucket, key + ".metadata", metadata, "application/octet-stream", execution.encryption)
            except PermissionError as exc:
                raise QueryFailed(
                    f"Access denied when writing output to url: {execution.output} . Please ensure you are "
                    "allowed to access the S3 bucket. If you are encrypting query results with KMS key, "
                    "please ensure you are allowed to access your KMS key"
                ) from exc
            execution.result = outcome.result
            self._finish(execution, SUCCEEDED)
        except QueryFailed as failure:
            self._finish(
                execution, failure.state, failure.message, failure.category if failure.state == FAILED else None
            )
        except Exception as exc:  # noqa: BLE001 - a query never stays RUNNING: any other fault is a system error
            self._finish(execution, FAILED, f"INTERNAL_ERROR_QUERY_ENGINE: {type(exc).__name__}", 1)

    def get_query_execution(self, execution_id: str) -> QueryExecution:
        """GetQueryExecution.

        Raises:
            InvalidRequestException: no such execution.
        """
        found = self.executions.get(execution_id)
        if found is None:
            raise InvalidRequestException(f"QueryExecution {execution_id} was not found")
        return found

    def batch_get_query_execution(self, ids: list[str]) -> dict[str, Any]:
        """BatchGetQueryExecution: found executions and ``UnprocessedQueryExecutionIds``."""
        found = [self.executions[i].to_api() for i in ids if i in self.executions]
        missing = [
            {"QueryExecutionId": i, "ErrorCode": "INVALID_INPUT", "ErrorMessage": "Query execution not found"}
            for i in ids
            if i not in self.executions
        ]
        return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}

    def get_query_results(
        self, execution_id: str, *, next_token: str | None = None, max_results: int = 1000
    ) -> dict[str, Any]:
        """GetQueryResults: one page of a succeeded query's rows.

        Raises:
            InvalidRequestException: no such execution, or it did not succeed.
        """
        execution = self.get_query_execution(execution_id)
        if execution.state in (QUEUED, RUNNING):
            raise InvalidRequestException(f"Query has not yet finished. Current state: {execution.state}")
        if execution.state != SUCCEEDED or execution.result is None:
            raise InvalidRequestException(execution.reason or f"Query did not succeed: {execution.state}")
        return execution.result.page(next_token=next_token, max_results=max_results)

    def stop_query_execution(self, execution_id: str) -> None:
        """StopQueryExecution: cancel a queued or running query; a finished one is left as it is."""
        execution = self.get_query_execution(execution_id)
        execution.cancel.set()
        with self._lock:
            queued = execution.state == QUEUED
        if queued:
            self._finish(execution, CANCELLED, "Query cancelled by user")

    def list_query_executions(self, workgroup: str = "primary") -> list[str]:
        """ListQueryExecutions: a workgroup's execution IDs, newest first."""
        self.get_work_group(workgroup)
        found = [e for e in self.executions.values() if e.workgroup == workgroup]
        return [e.id for e in sorted(found, key=lambda e: e.submitted, reverse=True)]


@dataclass
class AthenaStore:
    """Backends per (account, Region), created on first use."""

    backends: dict[tuple[str, str], AthenaBackend] = field(default_factory=dict)
    executor: Executor | None = None

    def backend(self, account: str, region: str) -> AthenaBackend:
        """Return the backend of one account and Region."""
        key = (account, region)
        if key not in self.backends:
            self.backends[key] = AthenaBackend(account, region, self.executor)
        return self.backends[key]
