"""Amazon Athena behind the gateway (JSON 1.1, ``X-Amz-Target: AmazonAthena.<Operation>``).

Query executions, workgroups and named queries over the local Glue catalog, run on DuckDB by
:mod:`kmslab.cloud.athena` (the core). Each action is authorized as the gateway authorizes the
services it implements itself: the caller's IAM policies for ``athena:<Operation>`` on the
workgroup's ARN (``arn:aws:athena:<region>:<account>:workgroup/<name>``; ``*`` for ListWorkGroups).
Queries run in the background (QUEUED -> RUNNING -> ...), at most :data:`CONCURRENCY` at a time,
reading and writing S3 as the caller (:mod:`kmslab.cloud.athena.gateway_io`). Workgroups and named
queries persist in the document store; query executions are kept in memory only.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kmslab.cloud.athena import workgroups
from kmslab.cloud.athena.errors import AthenaError, InvalidRequestException
from kmslab.cloud.athena.gateway_io import CallerS3, GlueCatalog
from kmslab.cloud.athena.models import AthenaBackend, QueryExecution, WorkGroup
from kmslab.cloud.athena.projection import split_location
from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing
from kmslab.cloud.services._jsonsvc import ServiceBase, answer, parse_json
from kmslab.cloud.services.docstore import DocStore
from kmslab.iam import CloudIdentities
from kmslab.kms import LocalKms

if TYPE_CHECKING:
    from kmslab.cloud.s3 import S3Service

CONCURRENCY = 2
_WORKGROUP, _NAMED = "athena-workgroup", "athena-named-query"
Handler = Callable[[dict[str, Any], Call], dict[str, Any]]


def _jsonable(value: Any) -> Any:
    """Timestamps as epoch seconds (JSON 1.1's timestamp format), recursively."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _string(params: Mapping[str, Any], name: str, *, required: bool = True, max_len: int = 262144) -> str:
    value = params.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value) or len(value) > max_len:
        raise InvalidRequestException(
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: "
            f"Member must be a string of 1 to {max_len} characters"
        )
    return value


def _page(items: list[Any], params: Mapping[str, Any], *, lowest: int = 0) -> tuple[list[Any], str | None]:
    """One page of a List* answer (``MaxResults`` up to 50, an opaque ``NextToken``)."""
    size = params.get("MaxResults", 50)
    if not isinstance(size, int) or not lowest <= size <= 50:
        raise InvalidRequestException(f"MaxResults must be between {lowest} and 50")
    size = size or 50
    start = 0
    token = params.get("NextToken")
    if token is not None:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(str(token).encode()))["offset"])
        except (ValueError, KeyError, TypeError):
            raise InvalidRequestException("Invalid NextToken") from None
    chunk = items[start : start + size]
    more = start + size < len(items)
    return chunk, base64.urlsafe_b64encode(json.dumps({"offset": start + size}).encode()).decode() if more else None


class AthenaService(ServiceBase):
    """Athena: query executions, named queries and workgroups.

    Args:
        store: where workgroups and named queries persist.
        s3: the local S3 (tables' objects and query results).
        kms: the local KMS engine.
        identities: the callers' IAM policies.
        account: the account.
    """

    protocol = "json"

    def __init__(
        self, store: DocStore, s3: S3Service, *, kms: LocalKms, identities: CloudIdentities, account: str
    ) -> None:
        super().__init__(kms, identities, account, "athena.amazonaws.com", "athena")
        self.store = store
        self.s3 = s3
        self._backends: dict[str, AthenaBackend] = {}
        self._tokens: dict[tuple[str, str, str], str] = {}  # (operation, caller, token) -> ID
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="kmslab-athena")
        self._handlers: dict[str, Handler] = {
            "StartQueryExecution": self._start,
            "GetQueryExecution": self._get_execution,
            "GetQueryResults": self._results,
            "StopQueryExecution": self._stop,
            "ListQueryExecutions": self._list_executions,
            "BatchGetQueryExecution": self._batch_executions,
            "CreateNamedQuery": self._create_named,
            "GetNamedQuery": self._get_named,
            "ListNamedQueries": self._list_named,
            "BatchGetNamedQuery": self._batch_named,
            "DeleteNamedQuery": self._delete_named,
            "CreateWorkGroup": self._create_group,
            "GetWorkGroup": self._get_group,
            "ListWorkGroups": self._list_groups,
            "UpdateWorkGroup": self._update_group,
            "DeleteWorkGroup": self._delete_group,
        }

    def handle(self, request: Incoming, call: Call) -> Outgoing:
        """Answer one Athena request.

        Args:
            request: the request.
            call: who sends it.

        Returns:
            The answer.

        Raises:
            CloudError: Athena's error.
        """
        operation, params = parse_json(request, "AmazonAthena.")
        handler = self.served(self._handlers, operation)
        try:
            return answer(_jsonable(handler(params, call)), call)
        except AthenaError as exc:
            raise CloudError(exc.code, exc.message, exc.status) from None

    # -- state -------------------------------------------------------------------------------

    def backend(self, region: str) -> AthenaBackend:
        """The Region's Athena, with its saved workgroups and named queries loaded on first use.

        Args:
            region: the Region.

        Returns:
            The backend.
        """
        with self._lock:
            found = self._backends.get(region)
            if found is None:
                found = AthenaBackend(self.account, region, self._executor)
                for _, doc in self.store.items(_WORKGROUP, f"{region}|"):
                    found.put_work_group(workgroups.from_doc(doc))
                for _, doc in self.store.items(_NAMED, f"{region}|"):
                    found.put_named_query(doc)
                self._backends[region] = found
            return found

    def _save_group(self, region: str, group: WorkGroup, tags: list[Any] | None = None) -> None:
        old = self.store.get(_WORKGROUP, f"{region}|{group.name}") or {}
        self.store.put(_WORKGROUP, f"{region}|{group.name}", workgroups.to_doc(group, tags or old.get("tags")))

    def _arn(self, region: str, workgroup: str) -> str:
        return f"arn:aws:athena:{region}:{self.account}:workgroup/{workgroup}"

    def _allow(self, call: Call, operation: str, workgroup: str | None) -> None:
        resource = "*" if workgroup is None else self._arn(call.region, workgroup)
        self.authorize(call.caller, operation, resource, call.region)

    def _execution(self, params: Mapping[str, Any], call: Call, operation: str) -> QueryExecution:
        execution_id = _string(params, "QueryExecutionId", max_len=128)
        backend = self.backend(call.region)
        found = backend.executions.get(execution_id)
        self._allow(call, operation, found.workgroup if found else "primary")
        return backend.get_query_execution(execution_id)

    # -- query executions --------------------------------------------------------------------

    def _start(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        query = _string(params, "QueryString")
        group = _string(params, "WorkGroup", required=False, max_len=128) or "primary"
        self._allow(call, "StartQueryExecution", group)
        if params.get("ExecutionParameters"):
            raise InvalidRequestException("ExecutionParameters (parameterized queries) are not supported locally")
        context = params.get("QueryExecutionContext") or {}
        catalog = str(context.get("Catalog") or "AwsDataCatalog")
        if catalog.lower() != "awsdatacatalog":
            raise InvalidRequestException(f"Catalog {catalog} is not found; the local Athena has AwsDataCatalog only")
        token = params.get("ClientRequestToken")
        seen = ("StartQueryExecution", call.caller.arn, token) if isinstance(token, str) else None
        if seen in self._tokens:  # ClientRequestToken: a retried request gets the same execution
            return {"QueryExecutionId": self._tokens[seen]}
        result = params.get("ResultConfiguration")
        if result is not None:
            workgroups.check_configuration({"ResultConfiguration": result})
        s3 = CallerS3(self.s3, call.caller, call.region)
        execution_id = self.backend(call.region).start_query_execution(
            query,
            catalog=GlueCatalog(self.identities, self.account, call.caller, call.region),
            source=s3,
            writer=s3.put,
            database=context.get("Database") or None,
            workgroup=group,
            result_configuration=result,
        )
        if seen is not None:
            self._tokens[seen] = execution_id
        return {"QueryExecutionId": execution_id}

    def _get_execution(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        return {"QueryExecution": self._execution(params, call, "GetQueryExecution").to_api()}

    def _results(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        execution = self._execution(params, call, "GetQueryResults")
        size = params.get("MaxResults", 1000)
        if not isinstance(size, int):
            raise InvalidRequestException("MaxResults must be an integer")
        page = self.backend(call.region).get_query_results(
            execution.id, next_token=params.get("NextToken"), max_results=size
        )
        # GetQueryResults streams the results from the output location: the caller also needs
        # s3:GetObject there (and kms:Decrypt for SSE-KMS results) (Athena API Reference, GetQueryResults).
        bucket, key = split_location(execution.output)
        CallerS3(self.s3, call.caller, call.region).check_read(bucket, key)
        return page

    def _stop(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        execution = self._execution(params, call, "StopQueryExecution")
        self.backend(call.region).stop_query_execution(execution.id)
        return {}

    def _list_executions(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        group = _string(params, "WorkGroup", required=False, max_len=128) or "primary"
        self._allow(call, "ListQueryExecutions", group)
        ids, token = _page(self.backend(call.region).list_query_executions(group), params)
        return {"QueryExecutionIds": ids, **({"NextToken": token} if token else {})}

    def _batch_executions(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        ids = params.get("QueryExecutionIds")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 50 or not all(isinstance(i, str) for i in ids):
            raise InvalidRequestException("QueryExecutionIds must hold 1 to 50 query execution IDs")
        backend = self.backend(call.region)
        groups = {backend.executions[i].workgroup for i in ids if i in backend.executions}
        for group in sorted(groups) or ["primary"]:  # the caller needs the action on each workgroup involved
            self._allow(call, "BatchGetQueryExecution", group)
        return backend.batch_get_query_execution(ids)

    # -- named queries -----------------------------------------------------------------------

    def _create_named(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        group = _string(params, "WorkGroup", required=False, max_len=128) or "primary"
        self._allow(call, "CreateNamedQuery", group)
        token = params.get("ClientRequestToken")
        seen = ("CreateNamedQuery", call.caller.arn, token) if isinstance(token, str) else None
        if seen in self._tokens:
            return {"NamedQueryId": self._tokens[seen]}
        backend = self.backend(call.region)
        query_id = backend.create_named_query(
            name=_string(params, "Name", max_len=128),
            database=_string(params, "Database", max_len=255),
            query=_string(params, "QueryString"),
            description=_string(params, "Description", required=False, max_len=1024),
            workgroup=group,
        )
        self.store.put(_NAMED, f"{call.region}|{query_id}", backend.get_named_query(query_id))
        if seen is not None:
            self._tokens[seen] = query_id
        return {"NamedQueryId": query_id}

    def _named(self, params: Mapping[str, Any], call: Call, operation: str) -> dict[str, Any]:
        query_id = _string(params, "NamedQueryId", max_len=128)
        found = self.backend(call.region).named_queries.get(query_id)
        self._allow(call, operation, found["WorkGroup"] if found else "primary")
        return self.backend(call.region).get_named_query(query_id)

    def _get_named(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        return {"NamedQuery": self._named(params, call, "GetNamedQuery")}

    def _list_named(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        group = _string(params, "WorkGroup", required=False, max_len=128) or "primary"
        self._allow(call, "ListNamedQueries", group)
        ids, token = _page(self.backend(call.region).list_named_queries(group), params)
        return {"NamedQueryIds": ids, **({"NextToken": token} if token else {})}

    def _batch_named(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        ids = params.get("NamedQueryIds")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 50 or not all(isinstance(i, str) for i in ids):
            raise InvalidRequestException("NamedQueryIds must hold 1 to 50 named query IDs")
        backend = self.backend(call.region)
        groups = {backend.named_queries[i]["WorkGroup"] for i in ids if i in backend.named_queries}
        for group in sorted(groups) or ["primary"]:
            self._allow(call, "BatchGetNamedQuery", group)
        return backend.batch_get_named_query(ids)

    def _delete_named(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        query = self._named(params, call, "DeleteNamedQuery")
        self.backend(call.region).delete_named_query(query["NamedQueryId"])
        self.store.delete(_NAMED, f"{call.region}|{query['NamedQueryId']}")
        return {}

    # -- workgroups --------------------------------------------------------------------------

    def _create_group(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        name = workgroups.check_name(_string(params, "Name", max_len=128))
        self._allow(call, "CreateWorkGroup", name)
        configuration = workgroups.check_configuration(params.get("Configuration") or {})
        backend = self.backend(call.region)
        backend.create_work_group(name, configuration, _string(params, "Description", required=False, max_len=1024))
        tags = params.get("Tags")
        self._save_group(call.region, backend.get_work_group(name), tags if isinstance(tags, list) else None)
        return {}

    def _get_group(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        name = _string(params, "WorkGroup", max_len=128)
        self._allow(call, "GetWorkGroup", name)
        return {"WorkGroup": self.backend(call.region).get_work_group(name).to_api()}

    def _list_groups(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        self._allow(call, "ListWorkGroups", None)
        groups, token = _page(self.backend(call.region).list_work_groups(), params, lowest=1)
        return {"WorkGroups": groups, **({"NextToken": token} if token else {})}

    def _update_group(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        name = _string(params, "WorkGroup", max_len=128)
        self._allow(call, "UpdateWorkGroup", name)
        backend = self.backend(call.region)
        group = workgroups.updated(backend.get_work_group(name), params)
        backend.put_work_group(group)
        self._save_group(call.region, group)
        return {}

    def _delete_group(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        name = _string(params, "WorkGroup", max_len=128)
        self._allow(call, "DeleteWorkGroup", name)
        removed = self.backend(call.region).delete_work_group(name, recursive=bool(params.get("RecursiveDeleteOption")))
        for query_id in removed:
            self.store.delete(_NAMED, f"{call.region}|{query_id}")
        self.store.delete(_WORKGROUP, f"{call.region}|{name}")
        return {}
