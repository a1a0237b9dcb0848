"""Wall time of a full ``npx cdk synth`` and of the infra test suite (one run each, subprocesses).

Usage: ``.venv/bin/python bench/synth.py`` (from the repository root or anywhere). Prints one line per figure
and the ratio of the test suite to a synth; targets: synth well under 30 s, infra tests well under 60 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, result.returncode, (result.stdout + result.stderr)[-2000:]


def main() -> int:
    """Run both measurements and print them.

    Returns:
        0 when both commands succeeded, 1 otherwise.
    """
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    with tempfile.TemporaryDirectory(prefix="kmslab-synth-") as outdir:
        synth_s, synth_rc, synth_out = _timed(["npx", "cdk", "synth", "--quiet", "--output", outdir], env)
    tests_s, tests_rc, tests_out = _timed(
        [sys.executable, "-m", "pytest", "tests/stacks", "-q", "-p", "no:cacheprovider", "-m", "infra"], env
    )
    print(f"npx cdk synth (all stacks, cdk-nag on): {synth_s:6.2f} s  (exit {synth_rc})")
    print(f"pytest tests/stacks (one synth per config): {tests_s:6.2f} s  (exit {tests_rc})")
    print(f"ratio tests/synth: {tests_s / synth_s:5.2f}x")
    for rc, out in ((synth_rc, synth_out), (tests_rc, tests_out)):
        if rc != 0:
            print(out, file=sys.stderr)
    return 0 if synth_rc == 0 and tests_rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
