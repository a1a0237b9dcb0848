"""Event selectors: validated as PutEventSelectors does, and applied to the records a trail delivers.

Basic selectors (CloudTrail User Guide, "Logging management events", "Logging data events"): up to
5; each has ``ReadWriteType`` (``ReadOnly``, ``WriteOnly``, ``All``), ``IncludeManagementEvents`` and
optional ``DataResources`` and ``ExcludeManagementEventSources``. A management event is logged when
some selector includes management events, its read/write type matches the event's ``readOnly``, and
the event's source is not excluded. A data event (``managementEvent`` false) is logged when some
selector's read/write type matches and one of its ``DataResources`` has the event's resource type
(``AWS::S3::Object``) and a value that begins the object's ARN (``arn:aws:s3`` or ``arn:aws:s3:::``
for every bucket, ``arn:aws:s3:::bucket/`` for a bucket, ``arn:aws:s3:::bucket/prefix`` for a prefix).
A trail without selectors logs management events only.

Advanced selectors match ``eventCategory``, ``readOnly``, ``eventSource``, ``eventName``,
``resources.type`` and ``resources.ARN`` with ``Equals``, ``NotEquals``, ``StartsWith``,
``NotStartsWith``, ``EndsWith`` and ``NotEndsWith``; every field of one selector must match (any
value of a positive operator, none of a negative one), and one matching selector logs the event. A
field the local records do not carry does not narrow the selection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kmslab.cloud.errors import CloudError

_TYPES = ("ReadOnly", "WriteOnly", "All")
#: data resource types the local cloud records data events of
DATA_TYPES = ("AWS::S3::Object",)
_OPERATORS = ("Equals", "NotEquals", "StartsWith", "NotStartsWith", "EndsWith", "NotEndsWith")


def _invalid(message: str) -> CloudError:
    return CloudError("InvalidEventSelectorsException", message)


def check_selectors(raw: Any) -> list[dict[str, Any]]:
    """Validate basic event selectors.

    Args:
        raw: ``EventSelectors``.

    Returns:
        The selectors, with their defaults filled in.

    Raises:
        CloudError: ``InvalidEventSelectorsException``.
    """
    if not isinstance(raw, list) or not 1 <= len(raw) <= 5:
        raise _invalid("A trail can have between 1 and 5 event selectors.")
    out = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise _invalid("An event selector must be an object.")
        kind = item.get("ReadWriteType", "All")
        if kind not in _TYPES:
            raise _invalid(f"ReadWriteType must be one of {', '.join(_TYPES)}.")
        resources = item.get("DataResources") or []
        if not isinstance(resources, list) or len(resources) > 250:
            raise _invalid("DataResources must be a list of at most 250 data resources.")
        for resource in resources:
            _check_data_resource(resource)
        excluded = item.get("ExcludeManagementEventSources") or []
        if not isinstance(excluded, list) or not all(isinstance(s, str) for s in excluded):
            raise _invalid("ExcludeManagementEventSources must be a list of event sources.")
        out.append(
            {
                "ReadWriteType": kind,
                "IncludeManagementEvents": bool(item.get("IncludeManagementEvents", True)),
                "DataResources": resources,
                "ExcludeManagementEventSources": excluded,
            }
        )
    return out


def _check_data_resource(resource: Any) -> None:
    if not isinstance(resource, Mapping) or not isinstance(resource.get("Type"), str):
        raise _invalid("Each data resource needs a Type.")
    values = resource.get("Values") or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _invalid("The Values of a data resource must be a list of ARNs.")
    if resource["Type"] == "AWS::S3::Object" and not all(v.startswith("arn:aws:s3") for v in values):
        raise _invalid("Value of an AWS::S3::Object data resource must start with arn:aws:s3.")


def check_advanced(raw: Any) -> list[dict[str, Any]]:
    """Validate advanced event selectors (their shape only).

    Args:
        raw: ``AdvancedEventSelectors``.

    Returns:
        The selectors.

    Raises:
        CloudError: ``InvalidEventSelectorsException``.
    """
    if not isinstance(raw, list) or not raw:
        raise _invalid("AdvancedEventSelectors must be a non-empty list.")
    for item in raw:
        if not isinstance(item, Mapping) or not isinstance(item.get("FieldSelectors"), list):
            raise _invalid("Each advanced event selector needs FieldSelectors.")
        for field in item["FieldSelectors"]:
            if not isinstance(field, Mapping) or not isinstance(field.get("Field"), str):
                raise _invalid("Each field selector needs a Field.")
            for operator in _OPERATORS:
                values = field.get(operator)
                if values is not None and (not isinstance(values, list) or not values):
                    raise _invalid(f"{operator} of field {field['Field']} must be a non-empty list.")
    return [dict(item) for item in raw]


def _facts(record: Mapping[str, Any]) -> dict[str, str]:
    """The selector fields of a record (a data event's resource is its first one, the object)."""
    data = record.get("managementEvent") is False
    resources = record.get("resources") or [{}]
    first = resources[0] if isinstance(resources[0], Mapping) else {}
    return {
        "eventCategory": "Data" if data else "Management",
        "readOnly": "true" if record.get("readOnly") else "false",
        "eventSource": str(record.get("eventSource", "")),
        "eventName": str(record.get("eventName", "")),
        "resources.type": str(first.get("type", "")) if data else "",
        "resources.ARN": str(first.get("ARN", "")) if data else "",
    }


def _field_matches(field: Mapping[str, Any], value: str) -> bool:
    tests: dict[str, Callable[[str], bool]] = {
        "Equals": value.__eq__,
        "StartsWith": value.startswith,
        "EndsWith": value.endswith,
    }
    for operator, test in tests.items():
        if operator in field and not any(test(str(v)) for v in field[operator]):
            return False
        negative = "Not" + operator
        if negative in field and any(test(str(v)) for v in field[negative]):
            return False
    return True


def _advanced_allows(selectors: list[dict[str, Any]], record: Mapping[str, Any]) -> bool:
    facts = _facts(record)
    for selector in selectors:
        fields = [f for f in selector["FieldSelectors"] if str(f.get("Field")) in facts]
        if all(_field_matches(f, facts[str(f["Field"])]) for f in fields):
            return True
    return False


def _data_allows(selectors: list[dict[str, Any]], record: Mapping[str, Any]) -> bool:
    facts = _facts(record)
    read_only = facts["readOnly"] == "true"
    for selector in selectors:
        kind = selector.get("ReadWriteType", "All")
        if kind != "All" and (kind == "ReadOnly") != read_only:
            continue
        for resource in selector.get("DataResources") or []:
            if resource.get("Type") == facts["resources.type"] and any(
                facts["resources.ARN"].startswith(v) for v in resource.get("Values") or []
            ):
                return True
    return False


def selects(doc: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Tell whether a trail's selectors log a record (a management or a data event).

    Args:
        doc: the trail's document.
        record: the CloudTrail record.

    Returns:
        True when the trail delivers it.
    """
    if doc.get("advanced"):
        return _advanced_allows(list(doc["advanced"]), record)
    selectors = doc.get("selectors")
    if record.get("managementEvent") is False:
        return _data_allows(list(selectors or []), record)
    if not selectors:
        return True  # the default: every management event
    read_only = bool(record.get("readOnly"))
    for selector in selectors:
        if not selector.get("IncludeManagementEvents", True):
            continue
        if record.get("eventSource") in selector.get("ExcludeManagementEventSources", []):
            continue
        kind = selector.get("ReadWriteType", "All")
        if kind == "All" or (kind == "ReadOnly") == read_only:
            return True
    return False
