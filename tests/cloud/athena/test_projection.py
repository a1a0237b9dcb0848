"""Partition projection: only the prefixes a query's predicates select are read."""

from __future__ import annotations

from datetime import date

import pytest

from kmslab.audit.schema import glue_table_input
from kmslab.cloud.athena import QueryFailed, locations

TODAY = date(2026, 12, 2)
TABLE = glue_table_input(name="cloudtrail_logs", bucket="b", account="111122223333", region="us-east-1")
PARAMS = {k: str(v) for k, v in TABLE["Parameters"].items()}  # type: ignore[union-attr]
PREFIX = "s3://b/AWSLogs/111122223333/CloudTrail/us-east-1/"


def _days(sql: str, params: dict[str, str] = PARAMS) -> list[str]:
    return [loc.removeprefix(PREFIX).rstrip("/") for loc in locations(params, sql, TODAY, PREFIX)]


def test_the_kits_window_predicate_selects_the_window_days() -> None:
    sql = (
        "SELECT 1 FROM t WHERE \"timestamp\" >= date_format(current_date - interval '3' day, '%Y/%m/%d') "
        "AND eventsource = 'kms.amazonaws.com' AND (a = 1 OR b = 2) ORDER BY 1"
    )
    assert _days(sql) == ["2026/11/29", "2026/11/30", "2026/12/01", "2026/12/02"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("\"timestamp\" = '2026/11/30'", ["2026/11/30"]),
        ("\"timestamp\" BETWEEN '2026/11/29' AND '2026/11/30'", ["2026/11/29", "2026/11/30"]),
        ("\"timestamp\" > '2026/11/30' AND \"timestamp\" < '2026/12/02'", ["2026/12/01"]),
        ("\"timestamp\" IN ('2026/01/05', '2026/12/01')", ["2026/01/05", "2026/12/01"]),
        ("timestamp >= date_format(current_date, '%Y/%m/%d')", ["2026/12/02"]),
        ("\"timestamp\" >= '2027/01/01'", []),
    ],
)
def test_predicates_on_the_partition(where: str, expected: list[str]) -> None:
    assert _days(f"SELECT * FROM t WHERE {where} LIMIT 10") == expected


@pytest.mark.parametrize(
    "where",
    [
        "\"timestamp\" = '2026/11/30' OR eventname = 'Decrypt'",  # a top-level OR: no pruning
        "(\"timestamp\" = '2026/11/30' OR eventname = 'Decrypt')",  # inside an OR group
        "eventname = 'Decrypt'",  # no predicate on the partition
    ],
)
def test_unsafe_or_absent_predicates_read_every_projected_day(where: str) -> None:
    days = _days(f"SELECT * FROM t WHERE {where}")
    assert days[0] == "2024/01/01" and days[-1] == "2026/12/02"
    assert len(days) == (TODAY - date(2024, 1, 1)).days + 1


def test_enum_projection_and_template_order() -> None:
    params = {
        "projection.enabled": "true",
        "projection.region.type": "enum",
        "projection.region.values": "us-east-1,eu-west-1",
        "projection.day.type": "date",
        "projection.day.format": "yyyy/MM/dd",
        "projection.day.range": "2026/11/30,NOW",
        "storage.location.template": "s3://b/AWSLogs/1/CloudTrail/${region}/${day}",
    }
    found = locations(params, "SELECT 1 FROM t WHERE region = 'eu-west-1' AND day >= '2026/12/01'", TODAY, "")
    assert found == [
        "s3://b/AWSLogs/1/CloudTrail/eu-west-1/2026/12/01/",
        "s3://b/AWSLogs/1/CloudTrail/eu-west-1/2026/12/02/",
    ]
    both = locations(
        params, "SELECT 1 FROM t WHERE region IN ('us-east-1', 'eu-west-1') AND day = '2026/12/02'", TODAY, ""
    )
    assert len(both) == 2


def test_without_projection_the_table_location_is_read() -> None:
    assert locations({}, "SELECT 1 FROM t", TODAY, "s3://b/data") == ["s3://b/data/"]


@pytest.mark.parametrize(
    "params",
    [
        {**PARAMS, "projection.timestamp.range": "yesterday,NOW"},
        {**PARAMS, "projection.timestamp.type": "injected"},
        {k: v for k, v in PARAMS.items() if k != "projection.timestamp.range"},
    ],
)
def test_malformed_projections_fail_the_query(params: dict[str, str]) -> None:
    with pytest.raises(QueryFailed, match="HIVE_METASTORE_ERROR"):
        locations(params, "SELECT 1 FROM t", TODAY, "")
