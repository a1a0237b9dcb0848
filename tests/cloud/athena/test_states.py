"""Query states through the gateway: QUEUED until a worker takes the query, StopQueryExecution cancels it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.cloud.athena.service import AthenaService
from tests.cloud.conftest import _start


class HeldExecutor(Executor):
    """Keeps submitted jobs until the test runs them."""

    def __init__(self) -> None:
        self.jobs: list[Callable[[], Any]] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.jobs.append(lambda: fn(*args, **kwargs))
        return Future()


def test_queued_then_stopped_and_a_run_query_succeeds(tmp_path: Path) -> None:
    running = _start(tmp_path, tls=False)
    try:
        service = running.cloud.gateway.services["athena"]
        assert isinstance(service, AthenaService)
        held = HeldExecutor()
        service._executor = held  # before the Region's backend exists, so its queries wait here
        athena = running.client("athena")
        running.client("s3").create_bucket(Bucket="out")
        glue = running.client("glue")
        glue.create_database(DatabaseInput={"Name": "db"})
        glue.create_table(
            DatabaseName="db",
            TableInput={"Name": "t", "StorageDescriptor": {"Columns": [], "Location": "s3://out/data/"}},
        )
        athena.create_work_group(Name="wg", Configuration={"ResultConfiguration": {"OutputLocation": "s3://out/r/"}})
        first = athena.start_query_execution(QueryString="SELECT count(*) AS n FROM db.t", WorkGroup="wg")
        second = athena.start_query_execution(QueryString="SELECT count(*) AS n FROM db.t", WorkGroup="wg")
        state = athena.get_query_execution(QueryExecutionId=first["QueryExecutionId"])["QueryExecution"]["Status"]
        assert state["State"] == "QUEUED"
        with pytest.raises(ClientError) as caught:
            athena.get_query_results(QueryExecutionId=first["QueryExecutionId"])
        assert "Current state: QUEUED" in caught.value.response["Error"]["Message"]
        athena.stop_query_execution(QueryExecutionId=first["QueryExecutionId"])
        for job in held.jobs:
            job()
        stopped = athena.get_query_execution(QueryExecutionId=first["QueryExecutionId"])["QueryExecution"]
        assert stopped["Status"]["State"] == "CANCELLED"
        done = athena.get_query_execution(QueryExecutionId=second["QueryExecutionId"])["QueryExecution"]
        assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
        rows = athena.get_query_results(QueryExecutionId=second["QueryExecutionId"])["ResultSet"]["Rows"]
        assert [[d.get("VarCharValue") for d in r["Data"]] for r in rows] == [["n"], ["0"]]
    finally:
        running.cloud.stop()
