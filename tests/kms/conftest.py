"""Fixtures for the local KMS engine tests: a fresh engine on a fixed clock, and its in-process boto3 client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kmslab.kms import FixedClock, LocalKms

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
def kms(kms_engine: LocalKms) -> Any:
    """A real boto3 KMS client (botocore serialization and parsing) answered in process by ``kms_engine``."""
    return kms_engine.boto3_client()
