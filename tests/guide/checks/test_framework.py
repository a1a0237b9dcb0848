"""``kmslab check``'s framework: findings, errors turned into hints, output and exit status."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from kmslab.guide import checks
from kmslab.guide.checks import Chapter, CheckEnv, Finding
from kmslab.guide.checks.cli import check


def _done(env: CheckEnv) -> Finding:
    return Finding.done("the first step is done")


def _denied(env: CheckEnv) -> Finding:
    """The data key is readable."""
    raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not you"}}, "DescribeKey")


SAMPLE = Chapter(number=42, title="A sample", checks=(_done, _denied))


def test_a_check_that_raises_a_service_error_is_missing_with_the_error_as_hint() -> None:
    found = list(SAMPLE.run(CheckEnv()))
    assert found[0] == Finding(True, "the first step is done")
    assert found[1] == Finding(False, "The data key is readable", "AccessDeniedException: not you")


def test_cli_prints_each_step_and_exits_1_when_something_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks.cli, "chapters", lambda: {42: SAMPLE})
    result = CliRunner().invoke(check, ["42"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Chapter 42: A sample",
        "  ✓ the first step is done",
        "  ✗ The data key is readable: AccessDeniedException: not you",
        "1 of 2 done",
    ]


def test_cli_exits_0_when_every_step_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks.cli, "chapters", lambda: {1: Chapter(number=1, title="One", checks=(_done,))})
    result = CliRunner().invoke(check, ["1"])
    assert result.exit_code == 0 and result.output.endswith("1 of 1 done\n")


def test_an_unknown_chapter_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks.cli, "chapters", lambda: {5: SAMPLE})
    result = CliRunner().invoke(check, ["99"])
    assert result.exit_code == 2 and "chapter 99 has no checkpoint (chapters with one: 5)" in result.output


def test_every_chapter_module_defines_its_own_number() -> None:
    for number, chapter in checks.chapters().items():
        assert chapter.number == number and chapter.checks
