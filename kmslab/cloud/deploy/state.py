"""Deployed stacks, kept in the data dir: one JSON file per stack and Region, written atomically.

A stack's record holds what CloudFormation keeps: its template, parameters, status, every
resource's physical ID, attributes and last applied properties, and its outputs and exports.
Files are 0600 in a 0700 directory, replaced with a temp file, fsync and rename, so a crash
leaves either the old record or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kmslab.cloud.deploy.errors import DeployError


@dataclass
class ResourceRecord:
    """One deployed resource."""

    logical_id: str
    type: str
    physical_id: str
    properties: dict[str, Any]
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = "CREATE_COMPLETE"
    deletion_policy: str = "Delete"
    path: str = ""


@dataclass
class StackRecord:
    """One deployed stack."""

    name: str
    region: str
    account: str
    stack_id: str
    status: str
    template: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    resources: dict[str, ResourceRecord] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    imports: list[str] = field(default_factory=list)
    #: the stacks this one was deployed after (the assembly's dependencies): destroyed after it
    dependencies: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The record as plain JSON."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackRecord:
        """Rebuild a record from :meth:`to_json`'s output."""
        resources = {lid: ResourceRecord(**res) for lid, res in data.get("resources", {}).items()}
        return cls(**{**data, "resources": resources})


class StackStore:
    """The deployed stacks of one local cloud."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, region: str, name: str) -> Path:
        return self._root / region / f"{name}.json"

    def get(self, region: str, name: str) -> StackRecord | None:
        """The record of a stack, or None when it is not deployed."""
        path = self._path(region, name)
        try:
            return StackRecord.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            raise DeployError(f"{path}: the stack record is damaged ({exc}); delete it to forget the stack") from exc

    def put(self, record: StackRecord) -> None:
        """Save a stack's record atomically."""
        path = self._path(record.region, record.name)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{record.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(record.to_json(), handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp).replace(path)
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def drop(self, region: str, name: str) -> None:
        """Forget a deleted stack."""
        self._path(region, name).unlink(missing_ok=True)

    def all(self) -> Iterator[StackRecord]:
        """Every deployed stack, in every Region."""
        if not self._root.is_dir():
            return
        for path in sorted(self._root.glob("*/*.json")):
            record = self.get(path.parent.name, path.stem)
            if record is not None:
                yield record

    def exports(self, region: str) -> dict[str, tuple[str, str]]:
        """Export name -> (value, exporting stack) for one Region."""
        found: dict[str, tuple[str, str]] = {}
        for record in self.all():
            if record.region != region:
                continue
            for output in record.outputs.values():
                if output.get("export"):
                    found[output["export"]] = (output["value"], record.name)
        return found

    def importers(self, region: str, export: str) -> list[str]:
        """The stacks of a Region that import an export."""
        return [r.name for r in self.all() if r.region == region and export in r.imports]
