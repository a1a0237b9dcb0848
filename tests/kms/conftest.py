"""Fixtures for the local KMS tests: a fresh engine on a fixed clock, and a boto3 client talking to it over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from kmslab.kms import FixedClock, LocalKms
from kmslab.kms.server import KmsServer

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    """The engine's clock: stands still until a test moves it."""
    return FixedClock(START)


@pytest.fixture
def kms_engine(tmp_path: Path, clock: FixedClock) -> Iterator[LocalKms]:
    """A fresh LocalKms persisting to a temporary data directory."""
    engine = LocalKms(tmp_path / "kms", clock=clock)
    yield engine
    engine.close()


@pytest.fixture
def kms(kms_engine: LocalKms) -> Iterator[Any]:
    """A boto3 KMS client that reaches ``kms_engine`` through the HTTP endpoint, as any SDK would."""
    with KmsServer(kms_engine, port=0, owns_kms=False) as server:
        yield boto3.client(
            "kms",
            endpoint_url=server.url,
            region_name=kms_engine.region,
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # noqa: S106 - AWS's example key
        )
