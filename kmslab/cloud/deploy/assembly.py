"""A CDK cloud assembly (``cdk.out``): its stacks in deployment order, their templates and assets.

The assembly is what ``npx cdk synth`` writes; ``manifest.json`` lists each stack artifact with
its environment (``aws://account/region``), its template file and the stacks it depends on, and
each ``*.assets.json`` maps an asset hash (the S3 key a template names for Lambda code) to the
folder or file in the assembly it was built from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kmslab.cloud.deploy.errors import AssemblyError
from kmslab.cloud.deploy.template import Template


@dataclass(frozen=True)
class Asset:
    """One file asset: where it is in the assembly, and whether it is deployed zipped."""

    path: Path
    packaging: str  # "zip" (a folder or a zip file) or "file"


@dataclass(frozen=True)
class StackArtifact:
    """One stack of the assembly."""

    name: str
    account: str
    region: str
    template_path: Path
    dependencies: tuple[str, ...] = ()
    assets: Mapping[str, Asset] = field(default_factory=dict)

    def template(self) -> Template:
        """Parse the stack's template."""
        return Template.load(self.template_path)


@dataclass(frozen=True)
class Assembly:
    """The stacks of a cloud assembly, producers before consumers."""

    root: Path
    stacks: tuple[StackArtifact, ...]

    @classmethod
    def read(cls, root: Path) -> Assembly:
        """Read ``manifest.json`` and the asset manifests.

        Args:
            root: The assembly directory.

        Returns:
            The assembly.

        Raises:
            AssemblyError: The directory holds no readable assembly.
        """
        try:
            manifest = json.loads((root / "manifest.json").read_text())
            artifacts: Mapping[str, Any] = manifest["artifacts"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AssemblyError(f"{root}: no readable cloud assembly ({exc}); run 'make synth' first") from exc
        stacks: dict[str, StackArtifact] = {}
        for name, art in artifacts.items():
            if art.get("type") != "aws:cloudformation:stack":
                continue
            account, region = _environment(name, str(art.get("environment", "")))
            assets: dict[str, Asset] = {}
            for dep in art.get("dependencies", []):
                if artifacts.get(dep, {}).get("type") == "cdk:asset-manifest":
                    assets.update(_assets(root, artifacts[dep]))
            stacks[name] = StackArtifact(
                name=str(art.get("properties", {}).get("stackName") or name),
                account=account,
                region=region,
                template_path=root / art["properties"]["templateFile"],
                dependencies=tuple(
                    d
                    for d in art.get("dependencies", [])
                    if artifacts.get(d, {}).get("type") == "aws:cloudformation:stack"
                ),
                assets=assets,
            )
        return cls(root=root, stacks=tuple(_ordered(stacks)))

    def select(self, names: Iterable[str] | None) -> list[StackArtifact]:
        """The named stacks (all when ``names`` is empty), in deployment order.

        Raises:
            AssemblyError: A name is not a stack of the assembly.
        """
        wanted = list(names or [])
        known = {s.name for s in self.stacks}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise AssemblyError(f"No stack found matching {unknown[0]!r}; the assembly has {', '.join(sorted(known))}")
        return [s for s in self.stacks if not wanted or s.name in wanted]

    def asset(self, key: str) -> Asset | None:
        """The asset an S3 key names (``<hash>.zip`` or ``<hash>.json``), from any stack."""
        digest = key.rsplit("/", 1)[-1].split(".", 1)[0]
        for stack in self.stacks:
            if digest in stack.assets:
                return stack.assets[digest]
        return None


def _environment(name: str, env: str) -> tuple[str, str]:
    prefix = "aws://"
    parts = env[len(prefix) :].split("/") if env.startswith(prefix) else []
    if len(parts) != 2 or "unknown-" in env:
        raise AssemblyError(
            f"stack {name} has no concrete account and Region ({env or 'none'}); "
            "synthesize with -c account=... -c region=..."
        )
    return parts[0], parts[1]


def _assets(root: Path, art: Mapping[str, Any]) -> dict[str, Asset]:
    path = root / art.get("properties", {}).get("file", "")
    try:
        files = json.loads(path.read_text()).get("files", {})
    except (OSError, ValueError) as exc:
        raise AssemblyError(f"{path}: unreadable asset manifest ({exc})") from exc
    return {
        digest: Asset(path=root / spec["source"]["path"], packaging=str(spec["source"].get("packaging", "file")))
        for digest, spec in files.items()
    }


def _ordered(stacks: Mapping[str, StackArtifact]) -> list[StackArtifact]:
    order: list[StackArtifact] = []

    def visit(name: str, seen: tuple[str, ...]) -> None:
        if stacks[name] in order:
            return
        if name in seen:
            raise AssemblyError(f"the stacks depend on each other in a cycle: {' -> '.join([*seen, name])}")
        for dep in stacks[name].dependencies:
            if dep in stacks:
                visit(dep, (*seen, name))
        order.append(stacks[name])

    for name in stacks:
        visit(name, ())
    return order
