"""Print the cdk-nag summary of a synth: open findings and acknowledgements per pack (``make synth`` runs it).

Reads ``cdk.out/validation-report.json``, which CDK writes when policy-validation plugins (the cdk-nag packs)
run; imports nothing of CDK, so it adds no start-up time to ``make synth``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["main", "summary_lines"]

_PACKS = ("AwsSolutions", "NIST.800.53.R5")


def summary_lines(report: dict[str, Any]) -> list[str]:
    """One line per pack (open findings, acknowledgements), then one line per open finding.

    Args:
        report: The parsed validation report.

    Returns:
        The lines to print.
    """
    by_pack = {str(r.get("pluginName")): r for r in report.get("pluginReports", [])}
    lines: list[str] = []
    details: list[str] = []
    for pack in sorted({*_PACKS, *by_pack}):
        entry = by_pack.get(pack, {})
        violations = entry.get("violations", [])
        opened = sum(len(v.get("violatingConstructs", [])) or 1 for v in violations)
        acknowledged = Counter(
            str(v.get("acknowledgedId", "")).partition("::")[2].split("[")[0]
            for v in entry.get("suppressedViolations", [])
        )
        rules = ", ".join(f"{rule} x{count}" for rule, count in sorted(acknowledged.items()))
        lines.append(
            f"cdk-nag {pack}: {opened} open, {sum(acknowledged.values())} acknowledged"
            + (f" ({rules})" if rules else "")
        )
        for violation in violations:
            for construct in violation.get("violatingConstructs", []):
                details.append(f"  open: {violation.get('ruleName')} at {construct.get('constructPath')}")
    return lines + details


def main(argv: list[str] | None = None) -> int:
    """Print the summary of a validation report.

    Args:
        argv: ``[path]``; ``cdk.out/validation-report.json`` by default.

    Returns:
        0 when no pack has an open finding, 1 otherwise, 2 when the report cannot be read.
    """
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "cdk.out/validation-report.json")
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        print(f"cdk-nag: cannot read {path}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    lines = summary_lines(report)
    print("\n".join(lines))
    return 1 if any(line.startswith("  open:") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
