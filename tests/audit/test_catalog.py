"""The query catalog: one file per query, header and placeholders, rendering."""

from __future__ import annotations

import re

import pytest

from kmslab.audit.errors import AuditError, UnknownQueryError
from kmslab.audit.queries import get_query, load_queries, render

pytestmark = pytest.mark.unit

REQUIRED = {
    "kms_calls_by_operation",
    "kms_calls_by_key",
    "kms_calls_by_principal",
    "kms_failed_calls",
    "pending_deletion_key_use",
    "key_lifecycle_events",
    "key_last_used",
    "s3_sse_kms_activity",
    "access_denied_calls",
}


def test_every_required_query_exists_with_a_description() -> None:
    queries = load_queries()
    assert {q.name for q in queries} >= REQUIRED
    for query in queries:
        assert query.sql.startswith(f"-- {query.name}: ")
        assert len(query.description) > 20


def test_every_query_filters_on_the_partition_window_and_kms() -> None:
    for query in load_queries():
        sql = render(query, table="db.cloudtrail_logs", days=7)
        assert "\"timestamp\" >= date_format(current_date - interval '7' day, '%Y/%m/%d')" in sql
        assert "eventsource = 'kms.amazonaws.com'" in sql
        assert "FROM db.cloudtrail_logs" in sql
        assert "{{" not in sql


def test_key_queries_match_keys_through_resources() -> None:
    for name in ("kms_calls_by_key", "pending_deletion_key_use", "key_last_used"):
        assert re.search(r"CROSS JOIN UNNEST\(resources\) AS r \(arn, accountid, type\)", get_query(name).sql)
    assert "errormessage LIKE '%is pending deletion%'" in get_query("pending_deletion_key_use").sql
    assert '$.encryptionContext["aws:s3:arn"]' in get_query("s3_sse_kms_activity").sql


def test_render_refuses_bad_input() -> None:
    query = get_query("kms_calls_by_key")
    with pytest.raises(AuditError):
        render(query, table="x; DROP TABLE y", days=30)
    with pytest.raises(AuditError):
        render(query, days=0)
    with pytest.raises(UnknownQueryError, match="known: access_denied_calls"):
        get_query("nope")
    assert 'FROM "my db".logs' in render(query, table='"my db".logs')
