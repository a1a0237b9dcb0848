"""cdk-nag (AwsSolutions + NIST 800-53 rev 5): no open findings, and every acknowledgement is narrow and reasoned."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from stacks.nag import PACKS, acknowledge, apply_nag, pack_of
from tests.stacks.conftest import Synthesized

ACK_KEY = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY


def acknowledgements(app: cdk.App) -> list[tuple[Any, str, str]]:
    """(construct, acknowledged id, reason) of every acknowledgement recorded in the app."""
    found = []
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == ACK_KEY:
                found += [(construct, rule, reason) for rule, reason in entry.data.items()]
    return found


def test_no_open_findings_in_either_pack(any_synth: Synthesized) -> None:
    # A pack with neither findings nor acknowledged findings is left out of the report; the probe test below
    # shows both packs run and report. Warnings count as open findings too.
    reports = {r["pluginName"]: r for r in any_synth.report["pluginReports"]}
    assert reports and set(reports) <= set(PACKS)
    open_findings = {
        name: [(v["ruleName"], [c["constructPath"] for c in v["violatingConstructs"]]) for v in r["violations"]]
        for name, r in reports.items()
    }
    assert open_findings == {name: [] for name in reports}
    assert all(r["conclusion"] == "success" for r in reports.values())


def test_every_acknowledgement_names_one_rule_on_one_resource_with_a_reason(any_synth: Synthesized) -> None:
    acks = acknowledgements(any_synth.app)
    assert acks, "the kit acknowledges a few findings; none were found"
    for construct, rule_id, reason in acks:
        path = construct.node.path
        pack, _, rule = rule_id.partition("::")
        assert pack in PACKS and pack_of(rule) == pack, rule_id
        assert len(reason.split()) >= 5, (path, rule_id, reason)
        assert isinstance(construct, cdk.CfnResource), f"{rule_id} acknowledged on {path}, not on one resource"
    # The suppressed findings the report lists are exactly the acknowledged ones that matched.
    suppressed = {
        (v["acknowledgedAt"], v["acknowledgedId"])
        for r in any_synth.report["pluginReports"]
        for v in r.get("suppressedViolations", [])
    }
    assert suppressed == {(construct.node.path, rule_id) for construct, rule_id, _ in acks}


def test_only_the_expected_rules_are_acknowledged(default_synth: Synthesized) -> None:
    rules = sorted({rule_id.split("::")[1].split("[")[0] for _, rule_id, _ in acknowledgements(default_synth.app)})
    assert rules == [
        "AwsSolutions-IAM5",
        "NIST.800.53.R5-DynamoDBInBackupPlan",
        "NIST.800.53.R5-LambdaConcurrency",
        "NIST.800.53.R5-LambdaInsideVPC",
        "NIST.800.53.R5-S3BucketReplicationEnabled",
        "NIST.800.53.R5-S3DefaultEncryptionKMS",
    ]


def _nag_unprotected_bucket(tmp_path: Any) -> dict[str, Any]:
    import json

    app = cdk.App(outdir=str(tmp_path), context={"@aws-cdk/core:failSynthOnValidationErrors": False})
    stack = cdk.Stack(app, "Probe")
    s3.Bucket(stack, "Plain")
    apply_nag(app)
    app.synth()
    report: dict[str, Any] = json.loads((tmp_path / "validation-report.json").read_text())
    return report


def test_apply_nag_reports_an_unprotected_bucket(tmp_path: Any) -> None:
    report = _nag_unprotected_bucket(tmp_path)
    rules = {v["ruleName"] for r in report["pluginReports"] for v in r["violations"]}
    assert {r["pluginName"] for r in report["pluginReports"]} == set(PACKS)
    assert {"AwsSolutions-S1", "AwsSolutions-S10", "NIST.800.53.R5-S3BucketSSLRequestsOnly"} <= rules


def test_acknowledge_refuses_vague_or_broad_suppressions() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    bucket = s3.Bucket(stack, "B").node.default_child
    assert bucket is not None
    with pytest.raises(ValueError, match="real reason"):
        acknowledge(bucket, "AwsSolutions-S1", "ok")
    with pytest.raises(ValueError, match="not on"):
        acknowledge(stack, "AwsSolutions-S1", "a stack-wide suppression is too broad here")
    with pytest.raises(ValueError, match="not a rule"):
        acknowledge(bucket, "AwsSolutions-*", "wildcards would hide future findings too")
    with pytest.raises(ValueError, match="not a rule"):
        acknowledge(bucket, "HIPAA.Security-S3BucketLoggingEnabled", "a pack the kit does not apply at all")


def test_synth_summary_counts_open_findings_and_acknowledgements_per_pack(full_synth: Synthesized) -> None:
    from stacks.nag_summary import main, summary_lines

    lines = summary_lines(dict(full_synth.report))
    assert lines[0].startswith("cdk-nag AwsSolutions: 0 open, ") and "AwsSolutions-IAM5 x" in lines[0]
    assert lines[1].startswith("cdk-nag NIST.800.53.R5: 0 open, ") and "NIST.800.53.R5-LambdaInsideVPC x2" in lines[1]
    assert len(lines) == 2
    assert main([str(full_synth.outdir / "validation-report.json")]) == 0
    broken = {
        "pluginReports": [
            {
                "pluginName": "AwsSolutions",
                "violations": [{"ruleName": "AwsSolutions-S1", "violatingConstructs": [{"constructPath": "A/B"}]}],
            }
        ]
    }
    assert summary_lines(broken)[0] == "cdk-nag AwsSolutions: 1 open, 0 acknowledged"
    assert summary_lines(broken)[-1] == "  open: AwsSolutions-S1 at A/B"


def test_acknowledge_takes_an_l2_and_records_on_its_one_resource() -> None:
    from constructs import Construct

    stack = cdk.Stack(cdk.App(), "S")
    bucket = s3.Bucket(stack, "B")
    acknowledge(bucket, "AwsSolutions-S1", "server access logs are out of scope for this probe bucket")
    resource = bucket.node.default_child
    assert resource is not None
    recorded = [e.data for e in resource.node.metadata if e.type == ACK_KEY]
    assert recorded == [{"AwsSolutions::AwsSolutions-S1": "server access logs are out of scope for this probe bucket"}]
    assert not [e for e in bucket.node.metadata if e.type == ACK_KEY]
    with pytest.raises(ValueError, match="no single CloudFormation resource"):
        acknowledge(Construct(stack, "Group"), "AwsSolutions-S1", "a group of resources is too broad to acknowledge")


def test_no_stack_unwraps_l2_constructs_for_acknowledgements() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "stacks"
    for path in root.rglob("*.py"):
        text = path.read_text()
        # acknowledge(...) is given the L2 itself; default_child appears only where a CloudFormation property is set
        assert not re.search(r"acknowledge\(\s*[\w.]+\.node\.default_child", text), path
        unwrap = r"(\w+) = \w+\.node\.default_child\s+assert isinstance\(\1, \w+\.Cfn\w+\)\s+acknowledge\("
        assert not re.search(unwrap, text), path
