"""The architecture diagram is read from a cloud assembly: stacks, resources and the references between them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kmslab.guide.architecture import ArchitectureError, read_assembly


def _write(tmp_path: Path, stacks: dict[str, dict[str, object]], deps: dict[str, list[str]]) -> Path:
    artifacts = {name: {"type": "aws:cloudformation:stack", "dependencies": deps.get(name, [])} for name in stacks}
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    for name, template in stacks.items():
        (tmp_path / f"{name}.template.json").write_text(json.dumps(template))
    return tmp_path


def test_cross_stack_and_role_references_become_edges(tmp_path: Path) -> None:
    keys = {
        "Resources": {
            "DataKeyABCDEF12": {"Type": "AWS::KMS::Key", "Metadata": {"aws:cdk:path": "Keys/DataKey/Resource"}}
        },
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["DataKeyABCDEF12", "Arn"]}, "Export": {"Name": "Keys:Arn"}}},
    }
    app = {
        "Resources": {
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"KMSMasterKeyID": {"Fn::ImportValue": "Keys:Arn"}},
            },
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Policy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "Roles": [{"Ref": "Role"}],
                    "PolicyDocument": {"Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}},
                },
            },
        }
    }
    diagram = read_assembly(_write(tmp_path, {"App": app, "Keys": keys}, {"App": ["Keys"]}))
    assert diagram.stacks == ("Keys", "App")  # producers first
    names = {(n.stack, n.name) for n in diagram.nodes}
    assert names == {("Keys", "DataKey"), ("App", "Bucket"), ("App", "Fn")}  # roles and policies are not nodes
    edges = {(a.name, b.name) for a, b in diagram.edges}
    assert edges == {("Bucket", "DataKey"), ("Fn", "Bucket")}
    source = diagram.mermaid()
    assert source.startswith("flowchart LR\n") and 'subgraph Keys["Keys"]' in source
    assert "App_Bucket --> Keys_DataKeyABCDEF12" in source


def test_a_missing_assembly_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ArchitectureError, match="run 'make synth' first"):
        read_assembly(tmp_path)
