"""MkDocs hooks for the workshop site (``mkdocs.yml`` names this file under ``hooks``).

- ``<!-- kmslab:architecture -->`` in a page becomes the Mermaid diagram of the synthesized kit
  (:mod:`kmslab.guide.architecture`), read from ``$KMSLAB_CDK_OUT`` or ``cdk.out`` beside ``mkdocs.yml``.
- Mermaid's script is copied from the pinned npm package into the built site, so pages render offline.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from kmslab.guide.architecture import read_assembly

MARKER = "<!-- kmslab:architecture -->"
_MERMAID = Path("node_modules/mermaid/dist/mermaid.min.js")
_TARGET = Path("assets/javascripts/mermaid.min.js")


def _root(config: Any) -> Path:
    return Path(config["config_file_path"]).resolve().parent


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the architecture marker with the diagram drawn from the cloud assembly."""
    if MARKER not in markdown:
        return markdown
    cdk_out = Path(os.environ.get("KMSLAB_CDK_OUT") or _root(config) / "cdk.out")
    diagram = read_assembly(cdk_out).mermaid()
    return markdown.replace(MARKER, f"```mermaid\n{diagram}```")


def on_post_build(config: Any) -> None:
    """Serve Mermaid from the site, not from a CDN."""
    source = _root(config) / _MERMAID
    if not source.is_file():
        raise FileNotFoundError(f"{source}: missing; run 'make install' (npm ci) first")
    target = Path(config["site_dir"]) / _TARGET
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
