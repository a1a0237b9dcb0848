"""The Trino -> DuckDB translation layer: rewrites and macros behave like Athena's functions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import duckdb
import pytest

from kmslab.audit.dialect import MACROS, strftime_format, translate

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    for macro in MACROS:
        connection.execute(macro)
    connection.execute(
        """CREATE TABLE t AS
           SELECT 1 AS id, [{'arn': 'a1', 'accountid': '1', 'type': 'AWS::KMS::Key'},
                            {'arn': 'a2', 'accountid': '1', 'type': 'AWS::KMS::Key'}] AS resources
           UNION ALL SELECT 2, []
           UNION ALL SELECT 3, NULL"""
    )
    yield connection
    connection.close()


def one(con: duckdb.DuckDBPyConnection, trino_sql: str, **kwargs: Any) -> Any:
    row = con.execute(translate(trino_sql, **kwargs)).fetchone()
    assert row is not None
    return row[0]


def test_cross_join_unnest_expands_row_fields_like_trino(con: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT id, r.arn, r.type FROM t CROSS JOIN UNNEST(resources) AS r (arn, accountid, type) ORDER BY r.arn"
    assert con.execute(translate(sql)).fetchall() == [(1, "a1", "AWS::KMS::Key"), (1, "a2", "AWS::KMS::Key")]


def test_left_join_unnest_keeps_rows_without_elements(con: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT id, r.arn FROM t LEFT JOIN UNNEST(resources) AS r (arn, accountid, type) ON true ORDER BY id, r.arn"
    assert con.execute(translate(sql)).fetchall() == [(1, "a1"), (1, "a2"), (2, None), (3, None)]


def test_unnest_rewrite_leaves_other_text_alone() -> None:
    sql = "SELECT 'CROSS JOIN UNNEST(x)' AS s FROM t"
    assert translate(sql) == sql


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.keyId", "k-1"),
        ('$.encryptionContext["aws:s3:arn"]', "arn:aws:s3:::b/o"),
        ("$.encryptionContext", None),  # objects are not scalars
        ("$.grantTokens", None),  # nor arrays
        ("$.numberOfBytes", "32"),
        ("$.missing", None),
    ],
)
def test_json_extract_scalar(con: duckdb.DuckDBPyConnection, path: str, expected: str | None) -> None:
    document = (
        '{"keyId":"k-1","encryptionContext":{"aws:s3:arn":"arn:aws:s3:::b/o"},"grantTokens":["g"],"numberOfBytes":32}'
    )
    assert one(con, f"SELECT json_extract_scalar('{document}', '{path}')") == expected


def test_json_extract_scalar_of_null_is_null(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, "SELECT json_extract_scalar(NULL, '$.keyId')") is None


def test_date_format_uses_mysql_letters(con: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT date_format(TIMESTAMP '2026-03-04 05:06:07', '%Y/%m/%d %H:%i:%s')"
    assert one(con, sql) == "2026/03/04 05:06:07"
    assert strftime_format("%Y-%m-%d %T %e") == "%Y-%m-%d %H:%M:%S %-d"


def test_partition_window_expression(con: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT date_format(current_date - interval '30' day, '%Y/%m/%d')"
    assert one(con, sql, today=date(2026, 3, 4)) == "2026/02/02"


def test_current_date_is_pinned_only_when_asked() -> None:
    assert "DATE '2026-03-04'" in translate("SELECT current_date", today=date(2026, 3, 4))
    assert translate("SELECT current_date") == "SELECT current_date"


def test_from_iso8601_timestamp_reads_cloudtrail_event_times(con: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT date_format(from_iso8601_timestamp('2026-03-04T05:06:07Z'), '%Y-%m-%d %H:%i:%s')"
    assert one(con, sql) == "2026-03-04 05:06:07"


def test_like_patterns_with_percent_letters_are_not_touched() -> None:
    sql = "SELECT 1 WHERE errormessage LIKE '%is pending deletion%' AND date_format(x, '%Y/%m/%d') > ''"
    assert "'%is pending deletion%'" in translate(sql)


def test_cardinality(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, "SELECT cardinality(resources) FROM t WHERE id = 1") == 2
