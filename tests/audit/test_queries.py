"""Every audit query, run offline on the records of a scripted local-KMS scenario, answers what the scenario did."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from kmslab.audit import AuditEngine, get_query, load_queries
from kmslab.audit.engine import QueryResult
from tests.audit.scenario import CRYPTO, LIFECYCLE, Action, Scenario, run_scenario

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return run_scenario(tmp_path_factory.mktemp("trail"))


@pytest.fixture(scope="module")
def cold(scenario: Scenario) -> Iterator[AuditEngine]:
    with AuditEngine(scenario.trail_dir, today=scenario.today.date()) as engine:
        yield engine


@pytest.fixture(scope="module")
def ingested(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditEngine]:
    db = tmp_path_factory.mktemp("db") / "audit.duckdb"
    with AuditEngine(scenario.trail_dir, db=db, today=scenario.today.date()) as engine:
        yield engine


@pytest.fixture(scope="module", params=["cold", "ingested"])
def engine(request: pytest.FixtureRequest, cold: AuditEngine, ingested: AuditEngine) -> AuditEngine:
    return cold if request.param == "cold" else ingested


def run(engine: AuditEngine, name: str) -> list[dict[str, Any]]:
    return engine.run(get_query(name)).as_dicts()


def _failed(actions: list[Action]) -> int:
    return sum(1 for a in actions if a.error_code)


def test_the_scenario_produced_failures_pending_deletion_and_s3_calls(scenario: Scenario) -> None:
    codes = Counter(a.error_code for a in scenario.actions if a.error_code)
    assert codes == {
        "AccessDenied": 2,
        "InvalidCiphertextException": 1,
        "NotFoundException": 1,
        "DisabledException": 1,
        "KMSInvalidStateException": 3,
    }
    assert sum(1 for a in scenario.actions if a.caller.invoked_by) == 4


def test_calls_by_operation(engine: AuditEngine, scenario: Scenario) -> None:
    groups: dict[str, list[Action]] = defaultdict(list)
    for action in scenario.actions:
        groups[action.operation].append(action)
    expected = sorted(
        (
            {
                "operation": op,
                "calls": len(acts),
                "failed": _failed(acts),
                "principals": len({a.principal for a in acts}),
            }
            for op, acts in groups.items()
        ),
        key=lambda r: (-r["calls"], r["operation"]),
    )
    assert run(engine, "kms_calls_by_operation") == expected


def test_calls_by_key(engine: AuditEngine, scenario: Scenario) -> None:
    groups: dict[str, list[Action]] = defaultdict(list)
    for action in scenario.actions:
        if action.key_arn:
            groups[action.key_arn].append(action)
    expected = sorted(
        (
            {
                "key_arn": key,
                "calls": len(acts),
                "failed": _failed(acts),
                "operations": len({a.operation for a in acts}),
                "principals": len({a.principal for a in acts}),
                "first_call": min(a.time for a in acts),
                "last_call": max(a.time for a in acts),
            }
            for key, acts in groups.items()
        ),
        key=lambda r: (-r["calls"], r["key_arn"]),
    )
    rows = run(engine, "kms_calls_by_key")
    assert rows == expected
    assert scenario.keys["old"] not in {r["key_arn"] for r in rows}  # 45 days ago: outside the window


def test_calls_by_principal(engine: AuditEngine, scenario: Scenario) -> None:
    groups: dict[tuple[str, str], list[Action]] = defaultdict(list)
    for action in scenario.actions:
        groups[(action.principal, action.caller.identity_type)].append(action)
    expected = sorted(
        (
            {
                "principal": principal,
                "identity_type": kind,
                "calls": len(acts),
                "failed": _failed(acts),
                "operations": len({a.operation for a in acts}),
                "last_call": max(a.time for a in acts),
            }
            for (principal, kind), acts in groups.items()
        ),
        key=lambda r: (-r["calls"], r["principal"]),
    )
    assert run(engine, "kms_calls_by_principal") == expected


def test_failed_calls(engine: AuditEngine, scenario: Scenario) -> None:
    rows = run(engine, "kms_failed_calls")
    got = [(r["eventtime"], r["operation"], r["errorcode"], r["key_arn"], r["principal"]) for r in rows]
    expected = [(a.time, a.operation, a.error_code, a.key_arn, a.principal) for a in scenario.actions if a.error_code]
    assert got == sorted(expected, key=lambda t: t[0], reverse=True)
    ips = {r["principal"]: r["sourceipaddress"] for r in rows}
    assert ips[scenario.actions[0].caller.arn] == "192.0.2.10"  # Alice
    by_code = {r["errorcode"]: r["errormessage"] for r in rows}
    assert by_code["KMSInvalidStateException"].endswith("is pending deletion.")


def test_pending_deletion_key_use(engine: AuditEngine, scenario: Scenario) -> None:
    retiring = scenario.keys["retiring"]
    expected = [
        {
            "eventtime": a.time,
            "key_arn": retiring,
            "operation": a.operation,
            "principal": a.principal,
            "sourceipaddress": "s3.amazonaws.com" if a.caller.invoked_by else a.caller.source_ip,
        }
        for a in reversed(scenario.actions)
        if a.error_code == "KMSInvalidStateException" and a.key_arn == retiring
    ]
    rows = run(engine, "pending_deletion_key_use")
    assert [{k: r[k] for k in expected[0]} for r in rows] == expected
    assert [r["operation"] for r in rows] == ["Decrypt", "Decrypt", "Encrypt"]
    assert all(r["errormessage"] == f"{retiring} is pending deletion." for r in rows)


def test_key_lifecycle_events(engine: AuditEngine, scenario: Scenario) -> None:
    expected = [
        (a.time, a.operation, a.key_arn, a.principal) for a in reversed(scenario.actions) if a.operation in LIFECYCLE
    ]
    rows = run(engine, "key_lifecycle_events")
    assert [(r["eventtime"], r["operation"], r["key_arn"], r["principal"]) for r in rows] == expected
    schedule = next(r for r in rows if r["operation"] == "ScheduleKeyDeletion")
    assert schedule["pending_window_days"] == "7"
    assert schedule["deletion_date"].endswith("M")  # CloudTrail's "Mon D, YYYY, h:mm:ss AM/PM"


def test_key_last_used(engine: AuditEngine, scenario: Scenario) -> None:
    uses: dict[str, list[Action]] = defaultdict(list)
    for action in scenario.actions:
        if (
            action.key_arn
            and action.operation in CRYPTO | {"GenerateDataKeyWithoutPlaintext"}
            and not action.error_code
        ):
            uses[action.key_arn].append(action)
    expected = sorted(
        (
            {
                "key_arn": key,
                "last_used": acts[-1].time,
                "last_operation": acts[-1].operation,
                "last_principal": acts[-1].principal,
                "uses": len(acts),
            }
            for key, acts in uses.items()
        ),
        key=lambda r: r["key_arn"],
    )
    expected.sort(key=lambda r: r["last_used"], reverse=True)
    assert run(engine, "key_last_used") == expected


def test_s3_sse_kms_activity(engine: AuditEngine, scenario: Scenario) -> None:
    expected = [
        {
            "eventtime": a.time,
            "operation": a.operation,
            "s3_object": a.s3_object,
            "key_arn": a.key_arn,
            "principal": a.principal,
            "errorcode": a.error_code,
        }
        for a in reversed(scenario.actions)
        if a.caller.invoked_by == "s3.amazonaws.com"
    ]
    assert run(engine, "s3_sse_kms_activity") == expected


def test_access_denied_calls(engine: AuditEngine, scenario: Scenario) -> None:
    expected = [
        {
            "eventtime": a.time,
            "operation": a.operation,
            "key_arn": a.key_arn,
            "principal": a.principal,
            "identity_type": "IAMUser",
            "sourceipaddress": "203.0.113.66",
        }
        for a in reversed(scenario.actions)
        if a.error_code == "AccessDenied"
    ]
    rows = run(engine, "access_denied_calls")
    assert [{k: r[k] for k in expected[0]} for r in rows] == expected
    assert all("is not authorized to perform: kms:" in r["errormessage"] for r in rows)


def test_every_query_is_checked_here() -> None:
    checked = {
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
    assert {q.name for q in load_queries()} == checked


def _sorted(result: QueryResult) -> list[tuple[Any, ...]]:
    return sorted(result.rows, key=repr)


def test_cold_and_ingested_modes_agree_on_every_query(cold: AuditEngine, ingested: AuditEngine) -> None:
    for query in load_queries():
        for days in (1, 30, 60):
            assert _sorted(cold.run(query, days=days)) == _sorted(ingested.run(query, days=days)), (query.name, days)


def test_the_window_moves_with_days(cold: AuditEngine, scenario: Scenario) -> None:
    query = get_query("kms_calls_by_key")
    keys_60 = {row[0] for row in cold.run(query, days=60).rows}
    assert scenario.keys["old"] in keys_60
    assert cold.run(query, days=1).rows == []  # everything happened three days ago
