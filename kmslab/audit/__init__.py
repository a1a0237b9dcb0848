"""Audit KMS use from CloudTrail: the table schema, the Athena queries and an offline DuckDB engine."""

from __future__ import annotations

from kmslab.audit.engine import AuditEngine, QueryResult
from kmslab.audit.errors import AuditError, QueryFailedError, TrailNotFoundError, UnknownQueryError
from kmslab.audit.queries import NamedQuery, get_query, load_queries, render

__all__ = [
    "AuditEngine",
    "AuditError",
    "NamedQuery",
    "QueryFailedError",
    "QueryResult",
    "TrailNotFoundError",
    "UnknownQueryError",
    "get_query",
    "load_queries",
    "render",
]
