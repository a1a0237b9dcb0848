"""CloudFormation's intrinsic functions, condition functions and rule functions, evaluated locally.

Supported (CloudFormation User Guide, "Intrinsic function reference"): ``Ref``, ``Fn::GetAtt``,
``Fn::Join``, ``Fn::Sub``, ``Fn::Select``, ``Fn::Split``, ``Fn::If``, ``Fn::Equals``, ``Fn::And``,
``Fn::Or``, ``Fn::Not``, ``Fn::FindInMap``, ``Fn::GetAZs``, ``Fn::ImportValue``, ``Fn::Base64``,
``Fn::Length``, ``Fn::ToJsonString``, ``Fn::GetStackOutput`` (what the CDK emits for cross-Region
references), ``Condition``, and the rule functions ``Fn::Contains``, ``Fn::EachMemberEquals``,
``Fn::EachMemberIn``, ``Fn::RefAll`` and ``Fn::ValueOf`` that the CDK's bootstrap-version rule uses.
``AWS::NoValue`` removes the property or list item it stands in.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from kmslab.cloud.deploy.errors import TemplateError

_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class Scope(Protocol):
    """What the evaluator asks of the stack being deployed."""

    def parameter(self, name: str) -> Any:
        """The value of a template parameter or pseudo parameter (``AWS::Region``...)."""
        ...

    def condition(self, name: str) -> bool:
        """The value of a named condition."""
        ...

    def resource_ref(self, logical_id: str) -> str:
        """What ``Ref`` returns for a resource: its physical ID (or ARN, per resource type)."""
        ...

    def resource_attribute(self, logical_id: str, attribute: str) -> Any:
        """What ``Fn::GetAtt`` returns for a resource attribute."""
        ...

    def import_value(self, name: str) -> str:
        """The value of an export of this account and Region."""
        ...

    def stack_output(self, stack: str, output: str, region: str | None) -> str:
        """An output of another stack (``Fn::GetStackOutput``)."""
        ...

    def mapping(self) -> Mapping[str, Any]:
        """The template's ``Mappings`` section."""
        ...

    def availability_zones(self, region: str) -> list[str]:
        """The Availability Zones of a Region."""
        ...


class Evaluator:
    """Computes template values within one :class:`Scope`."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self._functions: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": self._join,
            "Fn::Sub": self._sub,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::If": self._if,
            "Fn::Equals": self._equals,
            "Fn::And": lambda a: self._logic(a, all, "Fn::And"),
            "Fn::Or": lambda a: self._logic(a, any, "Fn::Or"),
            "Fn::Not": self._not,
            "Fn::FindInMap": self._find_in_map,
            "Fn::GetAZs": self._get_azs,
            "Fn::ImportValue": lambda a: self._scope.import_value(self._string(a, "Fn::ImportValue")),
            "Fn::GetStackOutput": self._get_stack_output,
            "Fn::Base64": lambda a: base64.b64encode(self._string(a, "Fn::Base64").encode()).decode(),
            "Fn::Length": self._length,
            "Fn::ToJsonString": lambda a: json.dumps(self.resolve(a), separators=(",", ":")),
            "Condition": lambda a: self._scope.condition(str(a)),
            "Fn::Contains": self._contains,
            "Fn::EachMemberEquals": self._each_member_equals,
            "Fn::EachMemberIn": self._each_member_in,
            "Fn::RefAll": lambda a: [],
            "Fn::ValueOf": lambda a: self.resolve(a[0]) if isinstance(a, list) and a else None,
        }

    def resolve(self, value: Any) -> Any:
        """Compute a value, replacing every intrinsic function by its result.

        Args:
            value: Any part of a template.

        Returns:
            The value with no functions left; ``AWS::NoValue`` parts removed.

        Raises:
            TemplateError: A function is unknown or given arguments of the wrong shape.
        """
        result = self._resolve(value)
        return None if result is _NO_VALUE else result

    def truth(self, value: Any) -> bool:
        """Evaluate a condition expression.

        Args:
            value: A condition function, a ``Condition`` reference or a literal ``"true"``/``"false"``.

        Returns:
            The condition's value.

        Raises:
            TemplateError: The expression is not a boolean.
        """
        result = self.resolve(value)
        if isinstance(result, bool):
            return result
        if isinstance(result, str) and result.lower() in ("true", "false"):
            return result.lower() == "true"
        raise TemplateError(f"Template error: a condition must be a boolean, got {result!r}")

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                function = self._functions.get(key)
                if function is not None:
                    if key == "Ref" and arg == "AWS::NoValue":
                        return _NO_VALUE
                    return function(arg)
                if key.startswith("Fn::"):
                    raise TemplateError(f"Template error: {key} is not a function CloudFormation knows")
            out = {}
            for key, item in value.items():
                resolved = self._resolve(item)
                if resolved is not _NO_VALUE:
                    out[key] = resolved
            return out
        return value

    def _string(self, arg: Any, function: str) -> str:
        value = self.resolve(arg)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TemplateError(f"Template error: {function} needs a string, got {value!r}")
        return str(value)

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise TemplateError("Template error: Ref needs a name")
        try:
            return self._scope.parameter(name)
        except KeyError:
            return self._scope.resource_ref(name)

    def _get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError("Template error: Fn::GetAtt needs [logicalId, attribute]")
        return self._scope.resource_attribute(str(arg[0]), self._string(arg[1], "Fn::GetAtt"))

    def _join(self, arg: Any) -> str:
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError("Template error: Fn::Join needs [delimiter, [values]]")
        items = self.resolve(arg[1])
        if not isinstance(items, list):
            raise TemplateError("Template error: Fn::Join's second argument must be a list")
        return str(arg[0]).join(_text(item) for item in items)

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
            text, variables = str(arg[0]), {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            raise TemplateError("Template error: Fn::Sub needs a string or [string, {variables}]")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in variables:
                return _text(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return _text(self._scope.resource_attribute(logical_id, attribute))
            return _text(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text)

    def _select(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError("Template error: Fn::Select needs [index, [values]]")
        index = int(self._string(arg[0], "Fn::Select"))
        items = self.resolve(arg[1])
        if not isinstance(items, list) or not 0 <= index < len(items):
            raise TemplateError(f"Template error: Fn::Select cannot select index {index} of {items!r}")
        return items[index]

    def _split(self, arg: Any) -> list[str]:
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError("Template error: Fn::Split needs [delimiter, string]")
        return self._string(arg[1], "Fn::Split").split(str(arg[0]))

    def _if(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) != 3:
            raise TemplateError("Template error: Fn::If needs [condition, value if true, value if false]")
        return self._resolve(arg[1] if self._scope.condition(str(arg[0])) else arg[2])

    def _equals(self, arg: Any) -> bool:
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError("Template error: Fn::Equals needs two values")
        left, right = self.resolve(arg[0]), self.resolve(arg[1])
        return _text(left) == _text(right) if not isinstance(left, list | dict) else bool(left == right)

    def _logic(self, arg: Any, combine: Callable[[Any], bool], name: str) -> bool:
        if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
            raise TemplateError(f"Template error: {name} needs 2 to 10 conditions")
        return combine(self.truth(item) for item in arg)

    def _not(self, arg: Any) -> bool:
        if not isinstance(arg, list) or len(arg) != 1:
            raise TemplateError("Template error: Fn::Not needs one condition")
        return not self.truth(arg[0])

    def _find_in_map(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) not in (3, 4):
            raise TemplateError("Template error: Fn::FindInMap needs [map, top-level key, second-level key]")
        names = [self._string(item, "Fn::FindInMap") for item in arg[:3]]
        try:
            return self._scope.mapping()[names[0]][names[1]][names[2]]
        except (KeyError, TypeError):
            if len(arg) == 4 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.resolve(arg[3]["DefaultValue"])
            raise TemplateError(f"Template error: Fn::FindInMap found no {'/'.join(names)}") from None

    def _get_azs(self, arg: Any) -> list[str]:
        region = self.resolve(arg) or self._scope.parameter("AWS::Region")
        return self._scope.availability_zones(str(region))

    def _get_stack_output(self, arg: Any) -> str:
        spec = self.resolve(arg)
        if not isinstance(spec, dict) or "StackName" not in spec or "OutputName" not in spec:
            raise TemplateError("Template error: Fn::GetStackOutput needs StackName and OutputName")
        region = spec.get("Region")
        return self._scope.stack_output(str(spec["StackName"]), str(spec["OutputName"]), region and str(region))

    def _length(self, arg: Any) -> int:
        items = self.resolve(arg)
        if not isinstance(items, list):
            raise TemplateError("Template error: Fn::Length needs a list")
        return len(items)

    def _contains(self, arg: Any) -> bool:
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError("Template error: Fn::Contains needs [list, value]")
        items, value = self.resolve(arg[0]), self.resolve(arg[1])
        return _text(value) in [_text(item) for item in items or []]

    def _each_member_equals(self, arg: Any) -> bool:
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError("Template error: Fn::EachMemberEquals needs [list, value]")
        items, value = self.resolve(arg[0]), self.resolve(arg[1])
        return all(_text(item) == _text(value) for item in items or [])

    def _each_member_in(self, arg: Any) -> bool:
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError("Template error: Fn::EachMemberIn needs [list, list]")
        items, allowed = self.resolve(arg[0]), self.resolve(arg[1])
        return all(_text(item) in [_text(a) for a in allowed or []] for item in items or [])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        raise TemplateError(f"Template error: expected a string, got {value!r}")
    return str(value)
