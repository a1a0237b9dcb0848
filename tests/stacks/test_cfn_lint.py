"""cfn-lint (in-process) over every synthesized template of every config: no errors, no warnings."""

from __future__ import annotations

from cfnlint.api import ManualArgs, lint

from tests.stacks.conftest import Synthesized

#: CDK's own cross-Region reference provider (written at synth, after the kit's code runs) repeats its role in
#: DependsOn; that redundant-dependency warning is the only finding accepted, and only on those resources.
_CDK_CROSS_REGION_PROVIDER = "CustomCrossRegionExport"


def lint_synth(synth: Synthesized) -> list[str]:
    findings = []
    for name, stack in synth.kit.stacks().items():
        template = (synth.outdir / stack.template_file).read_text()
        for match in lint(template, config=ManualArgs(regions=[stack.region])):
            path = [str(p) for p in match.path.path] if hasattr(match.path, "path") else [str(p) for p in match.path]
            if match.rule.id == "W3005" and len(path) > 1 and path[1].startswith(_CDK_CROSS_REGION_PROVIDER):
                continue
            findings.append(f"{name}: {match.rule.id} ({match.rule.severity}) {match.message} at {match.path}")
    return findings


def test_every_template_passes_cfn_lint(any_synth: Synthesized) -> None:
    assert len(any_synth.kit.stacks()) >= 3
    assert lint_synth(any_synth) == []


def test_cfn_lint_catches_a_broken_template(default_synth: Synthesized) -> None:
    broken = '{"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {"PendingWindowInDays": 3}}}}'
    matches = lint(broken, config=ManualArgs(regions=["us-east-1"]))
    assert any(m.rule.severity == "error" for m in matches)
