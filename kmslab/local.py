"""Kept for importers of the old name: the endpoint is assembled in :mod:`kmslab.endpoint`.

Another branch (the local cloud) and ``kmslab kms serve`` import ``kmslab.local.build_endpoint``.
"""

from __future__ import annotations

from kmslab.endpoint import LocalEndpoint, build_endpoint

__all__ = ["LocalEndpoint", "build_endpoint"]
