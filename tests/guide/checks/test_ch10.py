"""``kmslab check 10`` against the kit deployed in a local cloud: the trail, the auditor, the named queries."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kmslab.guide.checks.ch10 import CHAPTER, TRAIL, WORKGROUP
from tests.guide.checks._chapters_8_12 import hint, learner, oks
from tests.integration.conftest import Kit


@pytest.fixture
def env(kit: Kit, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    ca = str(kit.data_dir / "tls" / "ca.pem")
    return learner(monkeypatch, tmp_path, url=kit.cloud.url, ca=ca, creds=kit.creds("admin"))


def _run(athena, sql: str) -> str:  # type: ignore[no-untyped-def]
    run = athena.start_query_execution(WorkGroup=WORKGROUP, QueryString=sql)["QueryExecutionId"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = athena.get_query_execution(QueryExecutionId=run)["QueryExecution"]["Status"]["State"]
        if state not in ("QUEUED", "RUNNING"):
            return str(state)
        time.sleep(0.2)
    raise AssertionError("the query did not finish")


def test_queries_count_only_when_they_succeeded_and_a_stopped_trail_is_missing(kit: Kit, env) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30  # the trail's first log files
    while not oks(CHAPTER, env)[1] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert oks(CHAPTER, env) == [True, True, False]
    assert "(0 of 9)" in hint(CHAPTER, env, 2)

    athena = kit.as_role("athena", "kmslab-auditor")
    ids = athena.list_named_queries(WorkGroup=WORKGROUP)["NamedQueryIds"]
    queries = athena.batch_get_named_query(NamedQueryIds=ids)["NamedQueries"]
    for query in queries[:-1]:
        assert _run(athena, query["QueryString"]) == "SUCCEEDED"
    assert "(8 of 9)" in hint(CHAPTER, env, 2)
    assert queries[-1]["Name"] in hint(CHAPTER, env, 2)
    assert _run(athena, "SELECT * FROM no_such_table") == "FAILED"
    assert oks(CHAPTER, env)[2] is False
    assert _run(athena, queries[-1]["QueryString"]) == "SUCCEEDED"
    assert oks(CHAPTER, env) == [True, True, True]

    cloudtrail = kit.client("cloudtrail")
    cloudtrail.stop_logging(Name=TRAIL)
    try:
        assert oks(CHAPTER, env)[0] is False
        assert "not logging" in hint(CHAPTER, env, 0)
    finally:
        cloudtrail.start_logging(Name=TRAIL)


def test_without_the_auditor_profile_the_log_check_is_missing(kit: Kit, env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "aws-config"
    config.write_text(config.read_text().replace("[profile auditor]", "[profile someone-else]"))
    assert oks(CHAPTER, env)[1] is False
    assert "auditor" in hint(CHAPTER, env, 1)
