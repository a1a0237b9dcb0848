"""CloudFormation dynamic references: ``{{resolve:ssm:name}}`` in a resource's properties.

CloudFormation resolves a dynamic reference when it creates or updates the resource, from the
parameter's current value in the stack's Region ("Get values stored in other services using dynamic
references", CloudFormation User Guide). The CDK writes them for cross-Region references
(``Custom::CrossRegionExportReader``). ``ssm`` (the current version) is served; a pinned version, ``ssm-secure`` and
``secretsmanager`` are refused by name, never passed on as literal text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kmslab.cloud.deploy.errors import TemplateError

_REFERENCE = re.compile(r"\{\{resolve:([a-z-]+):([^}]*)\}\}")


def resolve_references(value: Any, ssm_parameter: Callable[[str], str]) -> Any:
    """Replace every dynamic reference in ``value`` by the value it names.

    Args:
        value: Resolved resource properties (no intrinsic functions left).
        ssm_parameter: Reads an SSM parameter of the stack's Region by name.

    Returns:
        The properties with the references' values in place.

    Raises:
        TemplateError: A reference names a service the local engine does not resolve, or a missing parameter.
    """
    if isinstance(value, str):
        return _REFERENCE.sub(lambda m: _one(m.group(1), m.group(2), ssm_parameter), value) if "{{" in value else value
    if isinstance(value, list):
        return [resolve_references(item, ssm_parameter) for item in value]
    if isinstance(value, dict):
        return {key: resolve_references(item, ssm_parameter) for key, item in value.items()}
    return value


def _one(service: str, reference: str, ssm_parameter: Callable[[str], str]) -> str:
    if service != "ssm":
        raise TemplateError(f"the dynamic reference {{{{resolve:{service}:...}}}} is not resolved by the local cloud")
    if re.search(r":\d+$", reference):
        raise TemplateError(f"the versioned dynamic reference ssm:{reference} is not resolved by the local cloud")
    try:
        return ssm_parameter(reference)
    except Exception as exc:  # noqa: BLE001 - the service's reason, as CloudFormation reports it
        raise TemplateError(
            f"Unable to fetch parameters [{reference}] from parameter store for this account ({type(exc).__name__})"
        ) from None
