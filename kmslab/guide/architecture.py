"""The kit's architecture as a Mermaid diagram, read from a synthesized cloud assembly (``cdk.out``).

The guide never draws the architecture by hand: this module reads the stacks' templates and
their dependencies from the assembly's ``manifest.json`` and turns them into one ``flowchart``.
Each stack becomes a subgraph; the resources a learner meets in the guide (keys, buckets, the
trail, the Glue table, the workgroup, functions, topics, queues, rules, alarms) become nodes; and
an edge is drawn where one resource's properties name another, within a stack or across stacks
(``Fn::ImportValue`` or ``Fn::GetStackOutput``). A role's policies are followed, so a function
points at the key its role may use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kmslab.errors import KmslabError

#: resource type -> the short label shown in the diagram; only these become nodes
SHOWN: Mapping[str, str] = {
    "AWS::KMS::Key": "KMS key",
    "AWS::S3::Bucket": "S3 bucket",
    "AWS::CloudTrail::Trail": "CloudTrail trail",
    "AWS::Glue::Table": "Glue table",
    "AWS::Athena::WorkGroup": "Athena workgroup",
    "AWS::Lambda::Function": "Lambda function",
    "AWS::SNS::Topic": "SNS topic",
    "AWS::Events::Rule": "EventBridge rule",
    "AWS::CloudWatch::Alarm": "CloudWatch alarm",
    "AWS::Logs::LogGroup": "log group",
    "AWS::Logs::MetricFilter": "metric filter",
}

_POLICY_TYPES = frozenset({"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"})
_HASH_SUFFIX = re.compile(r"[0-9A-F]{8}$")


class ArchitectureError(KmslabError):
    """The cloud assembly is missing or cannot be read."""


@dataclass(frozen=True)
class Node:
    """One resource shown in the diagram."""

    stack: str
    logical_id: str
    type: str
    name: str

    @property
    def key(self) -> str:
        """A Mermaid-safe node identifier, unique across stacks."""
        return re.sub(r"[^A-Za-z0-9_]", "_", f"{self.stack}_{self.logical_id}")


@dataclass(frozen=True)
class Diagram:
    """Stacks (in deployment order), their nodes and the edges between nodes."""

    stacks: tuple[str, ...]
    nodes: tuple[Node, ...]
    edges: tuple[tuple[Node, Node], ...]

    def mermaid(self) -> str:
        """Render the diagram as Mermaid ``flowchart`` source.

        Returns:
            The Mermaid source, without the code fence.
        """
        lines = ["flowchart LR"]
        for stack in self.stacks:
            lines.append(f'    subgraph {_safe(stack)}["{stack}"]')
            for node in self.nodes:
                if node.stack == stack:
                    lines.append(f'        {node.key}["{node.name}<br/><small>{SHOWN[node.type]}</small>"]')
            lines.append("    end")
        for source, target in self.edges:
            lines.append(f"    {source.key} --> {target.key}")
        return "\n".join(lines) + "\n"


def read_assembly(cdk_out: Path) -> Diagram:
    """Read the stacks of a cloud assembly into a diagram.

    Args:
        cdk_out: The assembly directory written by ``cdk synth``.

    Returns:
        The diagram of every stack in the assembly.

    Raises:
        ArchitectureError: The assembly is missing or damaged.
    """
    try:
        manifest = json.loads((cdk_out / "manifest.json").read_text())
        stacks = _stack_order(manifest)
        templates = {name: json.loads((cdk_out / f"{name}.template.json").read_text()) for name in stacks}
    except (OSError, ValueError, KeyError) as exc:
        raise ArchitectureError(f"{cdk_out}: not a readable cloud assembly ({exc}); run 'make synth' first") from exc
    found = {(stack, lid): _node(stack, lid, res) for stack in stacks for lid, res in _resources(templates[stack])}
    nodes = {k: v for k, v in found.items() if v is not None}
    exports = _exports(templates)
    edges: list[tuple[Node, Node]] = []
    for stack in stacks:
        resources = templates[stack].get("Resources", {})
        granted = _granted_by_role(stack, resources, exports)
        for (owner, lid), node in nodes.items():
            if owner != stack:
                continue
            targets = set(_references(stack, resources[lid].get("Properties", {}), exports))
            role = resources[lid].get("Properties", {}).get("Role")
            targets |= {t for ref in _references(stack, role, exports) for t in granted.get(ref, ())}
            for target in sorted(targets):
                if target in nodes and target != (stack, lid):
                    edges.append((node, nodes[target]))
    return Diagram(stacks=tuple(stacks), nodes=tuple(nodes.values()), edges=tuple(dict.fromkeys(edges)))


def _stack_order(manifest: Mapping[str, Any]) -> list[str]:
    """Stacks in dependency order (producers first), as the CLI deploys them."""
    artifacts = manifest["artifacts"]
    stacks = [name for name, art in artifacts.items() if art.get("type") == "aws:cloudformation:stack"]
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        for dep in artifacts[name].get("dependencies", []):
            if dep in stacks:
                visit(dep)
        order.append(name)

    for name in stacks:
        visit(name)
    return order


def _resources(template: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield from template.get("Resources", {}).items()


def _node(stack: str, logical_id: str, resource: Mapping[str, Any]) -> Node | None:
    if resource.get("Type") not in SHOWN:
        return None
    path = str(resource.get("Metadata", {}).get("aws:cdk:path", ""))
    parts = [p for p in path.split("/")[1:] if p not in ("Resource", "Default")]
    name = parts[-1] if parts else _HASH_SUFFIX.sub("", logical_id)
    if resource["Type"] == "AWS::Athena::WorkGroup":
        name = str(resource.get("Properties", {}).get("Name", name))
    return Node(stack=stack, logical_id=logical_id, type=str(resource["Type"]), name=name.replace('"', "'"))


def _exports(templates: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    """Map export names and ``stack/output`` names to the (stack, logical ID) they expose."""
    found: dict[str, tuple[str, str]] = {}
    for stack, template in templates.items():
        for output_name, output in template.get("Outputs", {}).items():
            for _, target in _references(stack, output.get("Value"), {}):
                name = output.get("Export", {}).get("Name")
                if isinstance(name, str):
                    found[name] = (stack, target)
                found[f"{stack}/{output_name}"] = (stack, target)
    return found


def _references(stack: str, value: Any, exports: Mapping[str, tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Every (stack, logical ID) that ``value`` refers to, following cross-stack references."""
    if isinstance(value, list):
        for item in value:
            yield from _references(stack, item, exports)
    elif isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str) and not value["Ref"].startswith("AWS::"):
            yield (stack, value["Ref"])
        elif "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            name = target[0] if isinstance(target, list) else str(target).split(".")[0]
            yield (stack, str(name))
        elif "Fn::ImportValue" in value and isinstance(value["Fn::ImportValue"], str):
            if value["Fn::ImportValue"] in exports:
                yield exports[value["Fn::ImportValue"]]
        elif "Fn::GetStackOutput" in value:
            spec = value["Fn::GetStackOutput"]
            found = exports.get(f"{spec.get('StackName')}/{spec.get('OutputName')}")
            if found:
                yield found
        else:
            for item in value.values():
                yield from _references(stack, item, exports)


def _granted_by_role(
    stack: str, resources: Mapping[str, Any], exports: Mapping[str, tuple[str, str]]
) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """Role -> the resources its policies (inline or attached in this stack) name."""
    granted: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for lid, resource in resources.items():
        props = resource.get("Properties", {})
        if resource.get("Type") in _POLICY_TYPES:
            targets = set(_references(stack, props.get("PolicyDocument"), exports))
            for role in _references(stack, props.get("Roles"), exports):
                granted.setdefault(role, set()).update(targets)
        elif resource.get("Type") == "AWS::IAM::Role":
            targets = set(_references(stack, props.get("Policies"), exports))
            for policy in _references(stack, props.get("ManagedPolicyArns"), exports):
                if policy[0] == stack and resources.get(policy[1], {}).get("Type") in _POLICY_TYPES:
                    doc = resources[policy[1]].get("Properties", {}).get("PolicyDocument")
                    targets |= set(_references(stack, doc, exports))
            granted.setdefault((stack, lid), set()).update(targets)
    return granted


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)
