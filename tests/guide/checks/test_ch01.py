"""``kmslab check 1``: the kit deployed, and the four profiles are who the guide says."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import CliRunner

from kmslab.guide.checks.cli import check
from tests.guide.checks.conftest import run_chapter
from tests.integration.conftest import Kit


def test_everything_in_place_passes(kit: Kit, profiles: Callable[..., None]) -> None:
    result = CliRunner().invoke(check, ["1"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Chapter 1: Preparation"
    assert result.output.endswith("6 of 6 done\n")


def test_nothing_deployed_in_the_region_is_missing(kit: Kit, profiles: Callable[..., None]) -> None:
    found = run_chapter(1, region="eu-west-1")
    assert [f.ok for f in found[:1]] == [False]
    assert "kmslab local deploy" in found[0].hint
    assert found[1].ok  # buckets are global: the data bucket is listed from any Region


def test_a_missing_profile_is_named_with_the_command_that_writes_it(kit: Kit, profiles: Callable[..., None]) -> None:
    profiles(skip=("alice",))
    found = {f.text: f for f in run_chapter(1)}
    alice = found["profile alice is a session of the role kmslab-key-user"]
    assert not alice.ok and "no profile alice" in alice.hint and "kmslab local profiles" in alice.hint
    assert found["profile auditor is a session of the role kmslab-auditor"].ok


def test_bob_with_kms_permissions_is_flagged(kit: Kit, profiles: Callable[..., None]) -> None:
    profiles(users={"admin": "admin", "bob": "admin"})  # bob's profile holds the administrator's keys
    found = {f.text: f for f in run_chapter(1)}
    bob = found["profile bob works and may not use the data key"]
    assert not bob.ok and "user/admin" in bob.hint


def test_a_session_that_is_not_admin_is_told_to_export_aws_profile(kit: Kit, profiles: Callable[..., None]) -> None:
    result = CliRunner().invoke(check, ["1", "--profile", "bob"])
    assert result.exit_code == 1
    assert "✗ your current profile (AWS_PROFILE=admin) may read the data key's policy" in result.output
    assert "export AWS_PROFILE=admin" in result.output
