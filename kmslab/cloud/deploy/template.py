"""A CloudFormation template, parsed and checked: its parts, and the order its resources are created in.

Only the template's shape is checked here (what CloudFormation's ``ValidateTemplate`` and the
start of ``CreateStack`` check): the sections, that every ``Ref``/``Fn::GetAtt``/``${}`` names a
parameter, pseudo parameter or resource, that every ``DependsOn`` and ``Condition`` exists, and
that the resources have no dependency cycle. Values are computed later by
:mod:`kmslab.cloud.deploy.intrinsics`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmslab.cloud.deploy.errors import TemplateError

#: AWS's pseudo parameters (CloudFormation User Guide, "Pseudo parameters reference").
PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)

_SECTIONS = frozenset(
    {
        "AWSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Rules",
        "Mappings",
        "Conditions",
        "Transform",
        "Resources",
        "Outputs",
    }
)
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


@dataclass(frozen=True)
class Resource:
    """One entry of the template's ``Resources`` section."""

    logical_id: str
    type: str
    properties: Mapping[str, Any]
    depends_on: tuple[str, ...] = ()
    condition: str | None = None
    deletion_policy: str = "Delete"
    update_replace_policy: str = "Delete"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The CDK construct path, when the CDK wrote one; else the logical ID."""
        return str(self.metadata.get("aws:cdk:path", self.logical_id))


@dataclass(frozen=True)
class Template:
    """A parsed template. Build one with :meth:`parse` or :meth:`load`."""

    parameters: Mapping[str, Mapping[str, Any]]
    mappings: Mapping[str, Any]
    conditions: Mapping[str, Any]
    rules: Mapping[str, Any]
    resources: Mapping[str, Resource]
    outputs: Mapping[str, Mapping[str, Any]]
    description: str = ""
    body: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Template:
        """Read and parse a JSON template file.

        Args:
            path: The template file.

        Returns:
            The parsed template.

        Raises:
            TemplateError: The file is not a valid template.
        """
        try:
            body = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise TemplateError(f"{path}: cannot read the template ({exc})") from exc
        return cls.parse(body)

    @classmethod
    def parse(cls, body: Any) -> Template:
        """Parse a template body.

        Args:
            body: The decoded JSON of the template.

        Returns:
            The parsed template.

        Raises:
            TemplateError: A section, resource or reference is malformed, or the resources form a cycle.
        """
        if not isinstance(body, dict):
            raise TemplateError("Template format error: the template must be a JSON object")
        unknown = sorted(set(body) - _SECTIONS)
        if unknown:
            raise TemplateError(f"Template format error: Invalid template property or properties {unknown}")
        if body.get("Transform"):
            raise TemplateError("Template format error: transforms (macros) are not served locally")
        raw_resources = body.get("Resources")
        if not isinstance(raw_resources, dict) or not raw_resources:
            raise TemplateError("Template format error: At least one Resources member must be defined.")
        resources = {lid: _resource(lid, spec) for lid, spec in raw_resources.items()}
        template = cls(
            parameters=_section(body, "Parameters"),
            mappings=_section(body, "Mappings"),
            conditions=_section(body, "Conditions"),
            rules=_section(body, "Rules"),
            resources=resources,
            outputs=_section(body, "Outputs"),
            description=str(body.get("Description", "")),
            body=body,
        )
        template._check_references()
        template.creation_order()
        return template

    def dependencies(self, logical_id: str) -> frozenset[str]:
        """The resources ``logical_id`` must wait for: its ``DependsOn`` and every resource it refers to.

        Args:
            logical_id: A resource of this template.

        Returns:
            The logical IDs of the resources it depends on.
        """
        resource = self.resources[logical_id]
        found = set(resource.depends_on)
        found.update(name for name in references(resource.properties) if name in self.resources)
        return frozenset(found - {logical_id})

    def creation_order(self) -> list[str]:
        """Resources in an order where each comes after everything it depends on.

        Returns:
            Logical IDs, dependencies first; ties keep the template's order.

        Raises:
            TemplateError: The resources depend on each other in a cycle.
        """
        order: list[str] = []
        state: dict[str, int] = {}  # 1 = visiting, 2 = done

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = trail[trail.index(name) :] + [name]
                raise TemplateError(f"Circular dependency between resources: {' -> '.join(cycle)}")
            state[name] = 1
            for dep in sorted(self.dependencies(name)):
                visit(dep, [*trail, name])
            state[name] = 2
            order.append(name)

        for name in self.resources:
            visit(name, [])
        return order

    def _check_references(self) -> None:
        known = set(self.parameters) | set(self.resources) | PSEUDO_PARAMETERS
        for lid, resource in self.resources.items():
            for dep in resource.depends_on:
                if dep not in self.resources:
                    raise TemplateError(f"Template format error: Unresolved resource dependencies [{dep}] in {lid}")
            if resource.condition is not None and resource.condition not in self.conditions:
                raise TemplateError(f"Template format error: Unresolved condition {resource.condition} in {lid}")
            for name in references(resource.properties):
                if name not in known:
                    raise TemplateError(
                        f"Template format error: Unresolved resource dependencies [{name}] in the Resources block"
                    )
        for name, output in self.outputs.items():
            for ref in references(output.get("Value")):
                if ref not in known:
                    raise TemplateError(f"Template format error: Unresolved dependencies [{ref}] in output {name}")


def references(value: Any) -> Iterator[str]:
    """Every name a value refers to through ``Ref``, ``Fn::GetAtt`` or a ``Fn::Sub`` variable.

    Args:
        value: Any part of a template.

    Yields:
        Parameter, pseudo parameter and resource names (with repeats).
    """
    if isinstance(value, list):
        for item in value:
            yield from references(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and isinstance(arg, str):
                yield arg
                return
            if key == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) and arg else str(arg).split(".", 1)[0]
                yield str(target)
                if isinstance(arg, list):
                    yield from references(arg[1:])
                return
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1] if len(arg) > 1 else {})
                local = set(variables) if isinstance(variables, dict) else set()
                for name in _SUB_VARIABLE.findall(str(text)):
                    base = name.split(".", 1)[0].strip()
                    if base not in local:
                        yield base
                yield from references(variables)
                return
        for item in value.values():
            yield from references(item)


def _section(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    section = body.get(name, {})
    if not isinstance(section, dict):
        raise TemplateError(f"Template format error: {name} must be an object")
    return section


def _resource(logical_id: str, spec: Any) -> Resource:
    if not re.fullmatch(r"[A-Za-z0-9]+", logical_id):
        raise TemplateError(f"Template format error: Resource name {logical_id} is non alphanumeric.")
    if not isinstance(spec, dict) or not isinstance(spec.get("Type"), str):
        raise TemplateError(
            f"Template format error: [/Resources/{logical_id}] Every Resources object must contain a Type member."
        )
    depends = spec.get("DependsOn", [])
    depends_on = (depends,) if isinstance(depends, str) else tuple(str(d) for d in depends)
    properties = spec.get("Properties", {})
    if not isinstance(properties, dict):
        raise TemplateError(f"Template format error: [/Resources/{logical_id}/Properties] must be an object")
    return Resource(
        logical_id=logical_id,
        type=spec["Type"],
        properties=properties,
        depends_on=depends_on,
        condition=spec.get("Condition"),
        deletion_policy=str(spec.get("DeletionPolicy", "Delete")),
        update_replace_policy=str(spec.get("UpdateReplacePolicy", "Delete")),
        metadata=spec.get("Metadata", {}) or {},
    )
