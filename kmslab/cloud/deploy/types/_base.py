"""Shared pieces of the resource handlers: the base class, physical names, tags and JSON policies."""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping
from typing import Any, ClassVar

from kmslab.cloud.deploy.resources import NeedsReplacement, ProvisionContext, Provisioned, Served

_ALPHABET = string.ascii_uppercase + string.digits


class Handler:
    """A resource handler: subclasses set the class attributes and implement ``create``/``delete``.

    ``update`` replaces the resource when a property in ``immutable`` changed, and otherwise calls
    :meth:`apply`, which by default also replaces (so a handler that can change nothing in place is safe).
    """

    type_name: ClassVar[str]
    served: ClassVar[Served] = "enforced"
    note: ClassVar[str] = ""
    immutable: ClassVar[frozenset[str]] = frozenset()

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        """Create the resource."""
        raise NotImplementedError

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        """Delete the resource."""
        raise NotImplementedError

    def update(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        """Update in place unless an immutable property changed."""
        if any(old.get(name) != new.get(name) for name in self.immutable):
            raise NeedsReplacement
        return self.apply(physical_id, old, new, ctx)

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        """Change mutable properties in place (default: replace)."""
        raise NeedsReplacement


class Reapply(Handler):
    """A handler whose ``create`` is an idempotent put: an update puts the new properties again."""

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        """Put the new properties on the same resource."""
        made = self.create(new, ctx)
        return Provisioned(physical_id, made.attributes)


def physical_name(ctx: ProvisionContext, *, max_length: int, lower: bool = False) -> str:
    """A name as CloudFormation generates one: ``<stack>-<logical id>-<random suffix>``.

    Args:
        ctx: The resource's context.
        max_length: The service's limit on the name.
        lower: Lower-case the name (S3 buckets).

    Returns:
        The generated name.
    """
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    head = f"{ctx.stack_name}-{ctx.logical_id}"[: max_length - len(suffix) - 1]
    name = f"{head}-{suffix}"
    return name.lower() if lower else name


def policy_text(document: Any) -> str:
    """A policy document as the JSON string the APIs take."""
    return document if isinstance(document, str) else json.dumps(document)


def tag_list(properties: Mapping[str, Any], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """The ``Tags`` property in the shape a service wants (``Key``/``Value`` or e.g. ``TagKey``/``TagValue``)."""
    return [{key: str(t["Key"]), value: str(t["Value"])} for t in properties.get("Tags", [])]


def present(properties: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """The named properties the template sets, as API arguments of the same names.

    Args:
        properties: The resource's properties.
        names: The optional properties the API takes as they are.

    Returns:
        name -> value, for each name present.
    """
    return {name: properties[name] for name in names if name in properties}
