#!/usr/bin/env python3
"""The kmslab CDK app: read the settings once, build the stacks, check them with cdk-nag, synthesize."""

from __future__ import annotations

import sys

import aws_cdk as cdk

from stacks.config import ConfigError, KitConfig
from stacks.kit import build_kit
from stacks.nag import apply_nag


def main() -> int:
    """Synthesize the kit; a bad setting is one line on stderr and exit status 2.

    Returns:
        The process exit status.
    """
    app = cdk.App()
    try:
        config = KitConfig.from_context(app)
    except ConfigError as exc:
        print(f"kmslab: {exc}", file=sys.stderr)
        return 2
    build_kit(app, config)
    apply_nag(app)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
