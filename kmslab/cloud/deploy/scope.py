"""The values a template sees while one stack deploys: parameters, conditions, resources, exports.

Parameter values come from the deploy's overrides, else the template's defaults; an
``AWS::SSM::Parameter::Value<...>`` parameter holds a parameter *name* that is read from the local
SSM Parameter Store, as CloudFormation does (the CDK's bootstrap version and the Powertools layer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kmslab.cloud.deploy.errors import TemplateError
from kmslab.cloud.deploy.intrinsics import Evaluator
from kmslab.cloud.deploy.state import StackRecord, StackStore
from kmslab.cloud.deploy.template import Template

if TYPE_CHECKING:
    from kmslab.cloud.deploy.engine import Environment


class StackScope:
    """Answers the evaluator's questions for one stack (implements ``intrinsics.Scope``)."""

    def __init__(
        self,
        record: StackRecord,
        template: Template,
        store: StackStore,
        env: Environment,
        overrides: Mapping[str, str],
    ) -> None:
        self._record = record
        self._template = template
        self._store = store
        self._env = env
        self._conditions: dict[str, bool] = {}
        self.evaluator = Evaluator(self)
        self._parameters = self._resolve_parameters(overrides)

    # -- intrinsics.Scope ----------------------------------------------------------------------------

    def parameter(self, name: str) -> Any:
        """A pseudo parameter or a template parameter; KeyError for anything else."""
        record = self._record
        pseudo = {
            "AWS::AccountId": record.account,
            "AWS::Region": record.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": record.name,
            "AWS::StackId": record.stack_id,
            "AWS::NotificationARNs": [],
        }
        if name in pseudo:
            return pseudo[name]
        return self._parameters[name]

    def condition(self, name: str) -> bool:
        """A named condition, evaluated once."""
        if name not in self._conditions:
            if name not in self._template.conditions:
                raise TemplateError(f"Template error: unresolved condition dependency {name}")
            self._conditions[name] = self.evaluator.truth(self._template.conditions[name])
        return self._conditions[name]

    def resource_ref(self, logical_id: str) -> str:
        """The physical ID of a resource created earlier in this deploy (or kept from the last one)."""
        resource = self._record.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"Template error: instance of {logical_id} references a resource that does not exist")
        return resource.physical_id

    def resource_attribute(self, logical_id: str, attribute: str) -> Any:
        """An attribute of a resource created earlier."""
        resource = self._record.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"Template error: instance of Fn::GetAtt references undefined resource {logical_id}")
        if attribute not in resource.attributes:
            raise TemplateError(
                f"Template error: resource {logical_id} does not support attribute type {attribute} in Fn::GetAtt"
            )
        return resource.attributes[attribute]

    def import_value(self, name: str) -> str:
        """An export of another stack in this account and Region."""
        exports = self._store.exports(self._record.region)
        if name not in exports:
            raise TemplateError(f"No export named {name} found. Rollback requested by user.")
        value, _stack = exports[name]
        if name not in self._record.imports:
            self._record.imports.append(name)
        return value

    def stack_output(self, stack: str, output: str, region: str | None) -> str:
        """An output of another deployed stack (any Region)."""
        other = self._store.get(region or self._record.region, stack)
        if other is None or output not in other.outputs:
            raise TemplateError(f"Stack {stack} has no output {output} in {region or self._record.region}")
        return other.outputs[output]["value"]

    def mapping(self) -> Mapping[str, Any]:
        """The template's Mappings."""
        return self._template.mappings

    def availability_zones(self, region: str) -> list[str]:
        """Three zones per Region, named as AWS names them."""
        return [f"{region}{zone}" for zone in "abc"]

    # -- for the engine ------------------------------------------------------------------------------

    def parameter_values(self) -> dict[str, str]:
        """The resolved template parameters, as the stack record keeps them."""
        return {name: _as_text(value) for name, value in self._parameters.items()}

    def included(self, logical_id: str) -> bool:
        """Whether a resource's Condition (if any) holds."""
        condition = self._template.resources[logical_id].condition
        return condition is None or self.condition(condition)

    def check_rules(self) -> None:
        """Evaluate the template's Rules; a failed assertion stops the deploy before anything is created."""
        for name, rule in self._template.rules.items():
            if "RuleCondition" in rule and not self.evaluator.truth(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not self.evaluator.truth(assertion.get("Assert")):
                    text = assertion.get("AssertDescription") or f"Rule {name} failed"
                    raise TemplateError(f"Template error: {text}")

    def outputs(self) -> dict[str, dict[str, str]]:
        """The stack's outputs (with export names), evaluated now."""
        found: dict[str, dict[str, str]] = {}
        for name, output in self._template.outputs.items():
            if "Condition" in output and not self.condition(str(output["Condition"])):
                continue
            entry = {"value": _as_text(self.evaluator.resolve(output.get("Value"))), "export": ""}
            if "Export" in output:
                entry["export"] = _as_text(self.evaluator.resolve(output["Export"].get("Name")))
            if "Description" in output:
                entry["description"] = str(output["Description"])
            found[name] = entry
        return found

    def _resolve_parameters(self, overrides: Mapping[str, str]) -> dict[str, Any]:
        unknown = sorted(set(overrides) - set(self._template.parameters))
        if unknown:
            raise TemplateError(f"Parameters: {unknown} do not exist in the template")
        values: dict[str, Any] = {}
        for name, spec in self._template.parameters.items():
            if name in overrides:
                value: Any = overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"Parameters: [{name}] must have values")
            kind = str(spec.get("Type", "String"))
            if kind.startswith("AWS::SSM::Parameter::Value<"):
                try:
                    value = self._env.ssm_parameter(str(value), self._record.region)
                except KeyError:
                    raise TemplateError(
                        f"Unable to fetch parameters [{value}] from parameter store for this account."
                    ) from None
            allowed = spec.get("AllowedValues")
            if allowed is not None and str(value) not in [str(a) for a in allowed]:
                raise TemplateError(f"Parameter '{name}' must be one of AllowedValues")
            if kind == "CommaDelimitedList" or kind.startswith("List<"):
                value = [item.strip() for item in str(value).split(",")] if isinstance(value, str) else value
            values[name] = value
        return values


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
