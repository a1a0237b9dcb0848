"""The contract between the deploy engine and the code that creates one resource type.

Each resource type the local cloud serves has a :class:`ResourceType`: it creates, updates and
deletes resources through the local services' own APIs (so the services' checks apply, as they
do when CloudFormation calls them on AWS), and says how it is served. A type with no handler is a
clear ``CREATE_FAILED`` naming it, never a silent skip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

#: how the local cloud serves a resource type
Served = Literal["enforced", "stored only", "not served"]


@dataclass(frozen=True)
class Provisioned:
    """A created or updated resource: what ``Ref`` returns, and its ``Fn::GetAtt`` attributes."""

    physical_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


class NeedsReplacement(Exception):  # noqa: N818 - a signal, not an error
    """Raised by :meth:`ResourceType.update` when a changed property can only be set on a new resource."""


@dataclass(frozen=True)
class ProvisionContext:
    """What a handler may use: where it deploys, the services' clients, and the stack's assets."""

    account: str
    region: str
    stack_name: str
    logical_id: str
    client: Callable[[str], Any]
    client_in: Callable[[str, str], Any] = field(default=lambda service, region: None)
    asset: Callable[[str], Any] = field(default=lambda key: None)
    tags: Mapping[str, str] = field(default_factory=dict)


class ResourceType(Protocol):
    """Creates, updates and deletes resources of one CloudFormation type."""

    @property
    def type_name(self) -> str:
        """The CloudFormation type, e.g. ``AWS::KMS::Key``."""
        ...

    @property
    def served(self) -> Served:
        """How the local cloud serves it."""
        ...

    @property
    def note(self) -> str:
        """One line on what the local service does with it."""
        ...

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        """Create the resource.

        Raises:
            Exception: The service's error; its message becomes the CREATE_FAILED reason.
        """
        ...

    def update(
        self,
        physical_id: str,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        ctx: ProvisionContext,
    ) -> Provisioned:
        """Change the resource in place.

        Raises:
            NeedsReplacement: A changed property cannot be updated in place.
        """
        ...

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        """Delete the resource (a resource already gone is not an error)."""
        ...


class Registry:
    """Resource types by name."""

    def __init__(self, types: list[ResourceType] | None = None) -> None:
        self._types: dict[str, ResourceType] = {}
        for handler in types or []:
            self.add(handler)

    def add(self, handler: ResourceType) -> None:
        """Register a handler for its type."""
        self._types[handler.type_name] = handler

    def get(self, type_name: str) -> ResourceType | None:
        """The handler of a type, or None when the local cloud does not serve it."""
        return self._types.get(type_name)

    def table(self, type_names: list[str]) -> list[tuple[str, Served, str]]:
        """How each of ``type_names`` is served: (type, enforced / stored only / not served, note)."""
        rows: list[tuple[str, Served, str]] = []
        for name in sorted(set(type_names)):
            handler = self._types.get(name)
            if handler is None:
                rows.append((name, "not served", "no local handler: the deploy fails with CREATE_FAILED"))
            else:
                rows.append((name, handler.served, handler.note))
        return rows
