"""Event selectors: validated as PutEventSelectors does, and applied to the records a trail delivers.

Basic selectors (CloudTrail User Guide, "Logging management events"): up to 5; each has
``ReadWriteType`` (``ReadOnly``, ``WriteOnly``, ``All``), ``IncludeManagementEvents`` and optional
``DataResources`` and ``ExcludeManagementEventSources``. A management event is logged when some
selector includes management events, its read/write type matches the event's ``readOnly``, and the
event's source is not excluded. Advanced selectors are stored and returned; a trail with them is
delivered only the management events they select by ``eventCategory`` = ``Management`` and
``readOnly``, the only fields the local records carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmslab.cloud.errors import CloudError

_TYPES = ("ReadOnly", "WriteOnly", "All")


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
    return [dict(item) for item in raw]


def _advanced_allows(selectors: list[dict[str, Any]], record: Mapping[str, Any]) -> bool:
    read_only = "true" if record.get("readOnly") else "false"
    facts = {"eventCategory": "Management", "readOnly": read_only, "eventSource": str(record.get("eventSource"))}
    for selector in selectors:
        ok = True
        for field in selector["FieldSelectors"]:
            value = facts.get(str(field.get("Field")))
            if value is None:
                continue  # a field the local records do not carry does not narrow the selection
            if "Equals" in field and value not in field["Equals"]:
                ok = False
            if "NotEquals" in field and value in field["NotEquals"]:
                ok = False
        if ok:
            return True
    return False


def selects(doc: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Tell whether a trail's selectors log a (management event) record.

    Args:
        doc: the trail's document.
        record: the CloudTrail record.

    Returns:
        True when the trail delivers it.
    """
    if doc.get("advanced"):
        return _advanced_allows(list(doc["advanced"]), record)
    selectors = doc.get("selectors")
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
