"""DescribeParameters filters: ``ParameterFilters`` (and the older ``Filters``), as Parameter Store applies them.

``ParameterFilters`` (SSM API Reference, ParameterStringFilter): keys ``Name``, ``Type``, ``KeyId``,
``Path``, ``Tier``, ``DataType`` and ``tag:<key>``; options ``Equals`` (the default) and
``BeginsWith``, plus ``Contains`` for ``Name``; a ``Path`` filter takes ``Recursive`` or ``OneLevel``
(the default). A parameter must pass every filter, and one of each filter's values. ``Label`` is not
valid for DescribeParameters. The deprecated ``Filters`` (ParametersFilter) take ``Name``, ``Type``
and ``KeyId`` with values matched exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kmslab.cloud.errors import CloudError

_KEY = re.compile(r"tag:.+|Name|Type|KeyId|Path|Tier|DataType")
_OPTIONS = {"Name": ("Equals", "BeginsWith", "Contains"), "Path": ("Recursive", "OneLevel")}
_DEFAULT_OPTIONS = ("Equals", "BeginsWith")
_LEGACY_KEYS = ("Name", "Type", "KeyId")


@dataclass(frozen=True)
class ParameterFilter:
    """One validated filter.

    Args:
        key: the filter key.
        option: how a value is compared.
        values: the values, one of which must match.
    """

    key: str
    option: str
    values: tuple[str, ...]

    def passes(self, item: Mapping[str, Any], tags: Mapping[str, str]) -> bool:
        """Tell whether a described parameter passes this filter.

        Args:
            item: the parameter as DescribeParameters returns it.
            tags: the parameter's tags.

        Returns:
            True when one of the values matches.
        """
        if self.key == "Path":
            return any(_under(str(item["Name"]), path, recursive=self.option == "Recursive") for path in self.values)
        if self.key.startswith("tag:"):
            field = tags.get(self.key[len("tag:") :])
            if field is None:
                return False
            return not self.values or any(_compare(field, value, self.option) for value in self.values)
        field = item.get(self.key)
        if field is None:
            return False
        return any(_compare(str(field), value, self.option) for value in self.values)


_COMPARE: dict[str, Callable[[str, str], bool]] = {
    "Equals": str.__eq__,
    "BeginsWith": str.startswith,
    "Contains": str.__contains__,
}


def _compare(field: str, value: str, option: str) -> bool:
    return _COMPARE[option](field, value)


def _under(name: str, path: str, *, recursive: bool) -> bool:
    folder = path.rstrip("/") + "/"
    if not name.startswith(folder):
        return False
    return recursive or "/" not in name[len(folder) :]


def parse_filters(params: Mapping[str, Any]) -> tuple[ParameterFilter, ...]:
    """Validate a DescribeParameters request's ``ParameterFilters`` and ``Filters``.

    Args:
        params: the request.

    Returns:
        The filters, all of which a parameter must pass.

    Raises:
        CloudError: ``InvalidFilterKey``, ``InvalidFilterOption`` or ``InvalidFilterValue``, or a
            ``ValidationException`` when both kinds are given or the shapes are wrong.
    """
    modern = params.get("ParameterFilters") or []
    legacy = params.get("Filters") or []
    if not isinstance(modern, list) or not isinstance(legacy, list):
        raise CloudError("ValidationException", "ParameterFilters and Filters must be lists")
    if modern and legacy:
        raise CloudError("ValidationException", "You can use either Filters or ParameterFilters in a single request.")
    found = [_modern(raw) for raw in modern] + [_legacy(raw) for raw in legacy]
    return tuple(found)


def _values(raw: Mapping[str, Any], *, required: bool) -> tuple[str, ...]:
    values = raw.get("Values") or []
    if not isinstance(values, list) or not all(isinstance(v, str) and 1 <= len(v) <= 1024 for v in values):
        raise CloudError("InvalidFilterValue", "Filter values are 1 to 1024 characters each.")
    if required and not values:
        raise CloudError("InvalidFilterValue", f"The filter {raw.get('Key')} needs at least one value.")
    return tuple(values)


def _modern(raw: Any) -> ParameterFilter:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("Key"), str):
        raise CloudError("ValidationException", "Each parameter filter needs a Key")
    key = raw["Key"]
    if key == "Label":
        raise CloudError("InvalidFilterKey", "The following filter key is not valid: Label.")
    if not _KEY.fullmatch(key):
        raise CloudError("InvalidFilterKey", f"The following filter key is not valid: {key}.")
    allowed = _OPTIONS.get(key, _DEFAULT_OPTIONS)
    option = raw.get("Option") or ("OneLevel" if key == "Path" else "Equals")
    if option not in allowed:
        raise CloudError(
            "InvalidFilterOption",
            f"The following filter option is not valid: {option}. Valid options include: {list(allowed)}.",
        )
    return ParameterFilter(key=key, option=option, values=_values(raw, required=not key.startswith("tag:")))


def _legacy(raw: Any) -> ParameterFilter:
    if not isinstance(raw, Mapping) or raw.get("Key") not in _LEGACY_KEYS:
        key = raw.get("Key") if isinstance(raw, Mapping) else raw
        raise CloudError("InvalidFilterKey", f"The following filter key is not valid: {key}.")
    return ParameterFilter(key=str(raw["Key"]), option="Equals", values=_values(raw, required=True))
