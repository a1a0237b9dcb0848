"""Synthesize the kit's cloud assembly for tests, exactly as ``npx cdk synth`` does, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def synthesize_kit(outdir: Path, context: Mapping[str, Any] | None = None) -> Path:
    """Run ``app.py`` with cdk.json's context (plus ``context``) into ``outdir``.

    Args:
        outdir: Where the assembly goes.
        context: Extra context values (``-c name=value``).

    Returns:
        ``outdir``.
    """
    merged = json.loads((ROOT / "cdk.json").read_text())["context"] | dict(context or {})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_DEFAULT_")}
    env |= {"CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(merged)}
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    return outdir
