"""Synthesize the kit's cloud assembly for tests, exactly as ``npx cdk synth`` does, offline.

A synth takes 10-40 s, and several test modules need the same kit: each configuration is synthesized once per
test run (pytest-xdist workers share it through a file lock) into ``$KMSLAB_TEST_SYNTH_CACHE`` (set by
``tests/conftest.py`` to a directory of the run), and copied to where each caller asked for it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE_ENV = "KMSLAB_TEST_SYNTH_CACHE"
#: what app.py uses when the context names no account or Region (stacks/config.py DEFAULT_ACCOUNT/REGION)
_APP_DEFAULTS = {"account": "111122223333", "region": "us-east-1"}


def synthesize_kit(outdir: Path, context: Mapping[str, Any] | None = None) -> Path:
    """Run ``app.py`` with cdk.json's context (plus ``context``) into ``outdir``.

    Args:
        outdir: Where the assembly goes.
        context: Extra context values (``-c name=value``).

    Returns:
        ``outdir``.
    """
    cache = os.environ.get(CACHE_ENV)
    if not cache:
        return _synth(outdir, context)
    key = json.dumps(_APP_DEFAULTS | dict(context or {}), sort_keys=True)
    built = Path(cache) / hashlib.sha256(key.encode()).hexdigest()[:16]
    built.mkdir(parents=True, exist_ok=True)
    with (built / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (built / "done").exists():
                _synth(built / "cdk.out", context)
                (built / "done").write_text(key)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if outdir.resolve() != (built / "cdk.out").resolve():
        shutil.copytree(built / "cdk.out", outdir, dirs_exist_ok=True)
    return outdir


def _synth(outdir: Path, context: Mapping[str, Any] | None) -> Path:
    merged = json.loads((ROOT / "cdk.json").read_text())["context"] | dict(context or {})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_DEFAULT_")}
    env |= {"CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(merged)}
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    return outdir
    merged = json.loads((ROOT / "cdk.json").read_text())["context"] | dict(context or {})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_DEFAULT_")}
    env |= {"CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(merged)}
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    return outdir
