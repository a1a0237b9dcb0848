"""Workgroups: :class:`WorkGroup`, its settings as CreateWorkGroup/UpdateWorkGroup take them, how it persists.

Workgroups and named queries persist in the cloud's document store (kinds ``athena-workgroup`` and
``athena-named-query``, named ``<region>|<name or id>``); query executions live in memory only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from kmslab.cloud.athena.errors import InvalidRequestException

MIN_BYTES_CUTOFF = 10_000_000  # Athena's minimum BytesScannedCutoffPerQuery


@dataclass(frozen=True)
class WorkGroup:
    """A workgroup (CreateWorkGroup's Name, Description and Configuration).

    Args:
        name: the name.
        configuration: ``WorkGroupConfiguration`` (ResultConfiguration, EnforceWorkGroupConfiguration,
            BytesScannedCutoffPerQuery, ...).
        description: the description.
        created: CreationTime.
        state: ``ENABLED`` or ``DISABLED`` (a disabled workgroup runs no queries).
    """

    name: str
    configuration: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    state: str = "ENABLED"

    def __post_init__(self) -> None:
        cutoff = self.configuration.get("BytesScannedCutoffPerQuery")
        if cutoff is not None and (not isinstance(cutoff, int) or cutoff < MIN_BYTES_CUTOFF):
            raise InvalidRequestException(f"BytesScannedCutoffPerQuery must be at least {MIN_BYTES_CUTOFF}")
        if self.state not in ("ENABLED", "DISABLED"):
            raise InvalidRequestException("State must be ENABLED or DISABLED")

    @property
    def enforced(self) -> bool:
        """EnforceWorkGroupConfiguration (Athena's default is true)."""
        return bool(self.configuration.get("EnforceWorkGroupConfiguration", True))

    def to_api(self) -> dict[str, Any]:
        """Return GetWorkGroup's ``WorkGroup``."""
        return {
            "Name": self.name,
            "State": self.state,
            "Configuration": dict(self.configuration),
            "Description": self.description,
            "CreationTime": self.created,
        }


NAME = re.compile(r"[a-zA-Z0-9._-]{1,128}")
_OPTIONS = ("SSE_S3", "SSE_KMS", "CSE_KMS")


def check_name(name: str) -> str:
    """Validate a workgroup name (``[a-zA-Z0-9._-]{1,128}``).

    Raises:
        InvalidRequestException: a bad name.
    """
    if not NAME.fullmatch(name):
        raise InvalidRequestException(
            f"1 validation error detected: Value '{name[:128]}' at 'name' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [a-zA-Z0-9._-]{1,128}"
        )
    return name


def check_configuration(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a WorkGroupConfiguration's result settings.

    Raises:
        InvalidRequestException: a bad output location or encryption configuration.
    """
    result = configuration.get("ResultConfiguration") or {}
    if not isinstance(result, Mapping):
        raise InvalidRequestException("ResultConfiguration must be an object")
    location = result.get("OutputLocation")
    if location is not None and (not isinstance(location, str) or not location.startswith("s3://")):
        raise InvalidRequestException(f"Invalid OutputLocation {str(location)[:200]!r}: it must be an s3:// URL")
    encryption = result.get("EncryptionConfiguration")
    if encryption is not None:
        option = encryption.get("EncryptionOption") if isinstance(encryption, Mapping) else None
        if option not in _OPTIONS:
            raise InvalidRequestException(f"EncryptionOption must be one of {', '.join(_OPTIONS)}")
        if option != "SSE_S3" and not encryption.get("KmsKey"):
            raise InvalidRequestException(f"KmsKey is required for the {option} encryption option")
    return dict(configuration)


def updated(group: WorkGroup, params: Mapping[str, Any]) -> WorkGroup:
    """Apply UpdateWorkGroup's Description, State and ConfigurationUpdates to a workgroup.

    Args:
        group: the workgroup.
        params: the UpdateWorkGroup request.

    Returns:
        The updated workgroup.

    Raises:
        InvalidRequestException: an invalid update.
    """
    config = dict(group.configuration)
    updates = dict(params.get("ConfigurationUpdates") or {})
    result = dict(config.get("ResultConfiguration") or {})
    for member, change in (updates.pop("ResultConfigurationUpdates", None) or {}).items():
        if member.startswith("Remove"):
            if change:
                result.pop(member[len("Remove") :], None)
        else:
            result[member] = change
    if result:
        config["ResultConfiguration"] = result
    else:
        config.pop("ResultConfiguration", None)
    if updates.pop("RemoveBytesScannedCutoffPerQuery", False):
        config.pop("BytesScannedCutoffPerQuery", None)
    for member, change in updates.items():
        if member.startswith("Remove") or member.endswith("Updates"):
            continue  # other Remove*/...Updates members concern features the local Athena does not have
        config[member] = change
    return replace(
        group,
        configuration=check_configuration(config),
        description=str(params.get("Description", group.description)),
        state=str(params.get("State", group.state)),
    )


def to_doc(group: WorkGroup, tags: list[Any] | None = None) -> dict[str, Any]:
    """The stored document of a workgroup."""
    return {
        "name": group.name,
        "configuration": dict(group.configuration),
        "description": group.description,
        "created": group.created.isoformat(),
        "state": group.state,
        "tags": list(tags or []),
    }


def from_doc(doc: Mapping[str, Any]) -> WorkGroup:
    """A workgroup from its stored document."""
    return WorkGroup(
        name=str(doc["name"]),
        configuration=dict(doc.get("configuration") or {}),
        description=str(doc.get("description", "")),
        created=datetime.fromisoformat(str(doc["created"])),
        state=str(doc.get("state", "ENABLED")),
    )
