"""One Athena query execution: its states (QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED) and its API shape."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kmslab.cloud.athena.results import ResultTable

__all__ = ["CANCELLED", "FAILED", "QUEUED", "RUNNING", "SUCCEEDED", "QueryExecution"]

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"


@dataclass
class QueryExecution:
    """One query execution and its result.

    Args:
        id: QueryExecutionId.
        query: the query text.
        database: QueryExecutionContext.Database.
        workgroup: the workgroup name.
        output: the result CSV's S3 URL.
        encryption: the result EncryptionConfiguration, or None.
    """

    id: str
    query: str
    database: str | None
    workgroup: str
    output: str
    encryption: Mapping[str, Any] | None
    state: str = QUEUED
    reason: str | None = None
    error_category: int | None = None
    submitted: datetime = field(default_factory=lambda: datetime.now(UTC))
    completed: datetime | None = None
    scanned: int = 0
    result: ResultTable | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_api(self) -> dict[str, Any]:
        """Return GetQueryExecution's ``QueryExecution``."""
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.completed:
            status["CompletionDateTime"] = self.completed
        if self.state == FAILED and self.error_category is not None:
            status["AthenaError"] = {
                "ErrorCategory": self.error_category,
                "Retryable": False,
                "ErrorMessage": self.reason,
            }
        elapsed = int(((self.completed or datetime.now(UTC)) - self.submitted).total_seconds() * 1000)
        result: dict[str, Any] = {"OutputLocation": self.output}
        if self.encryption:
            result["EncryptionConfiguration"] = dict(self.encryption)
        return {
            "QueryExecutionId": self.id,
            "Query": self.query,
            "StatementType": "DML",
            "ResultConfiguration": result,
            "QueryExecutionContext": {"Database": self.database, "Catalog": "AwsDataCatalog"} if self.database else {},
            "Status": status,
            "Statistics": {
                "EngineExecutionTimeInMillis": elapsed,
                "DataScannedInBytes": self.scanned,
                "TotalExecutionTimeInMillis": elapsed,
            },
            "WorkGroup": self.workgroup,
        }
