"""The kit deployed once per test session (per xdist worker): the default config, and every switch at once.

Modules that change the kit's state for good (a deletion scheduled, a destroy) deploy their own copy from the
same synthesized assembly (see :mod:`tests.integration.kit`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kmslab.cloud.deploy import Assembly
from tests.integration.kit import ALL_SWITCHES, DEFAULT, Kit, deploy_kit, synthesized


@pytest.fixture(scope="session")
def default_assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    return synthesized(tmp_path_factory, DEFAULT)


@pytest.fixture(scope="session")
def switched_assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    return synthesized(tmp_path_factory, ALL_SWITCHES)


@pytest.fixture(scope="session")
def kit(default_assembly: Assembly, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    """The default kit (cdk.json's context), deployed into a cloud of its own."""
    deployed = deploy_kit(default_assembly, tmp_path_factory.mktemp("kit"))
    try:
        yield deployed
    finally:
        deployed.cloud.stop()


@pytest.fixture(scope="session")
def switched(switched_assembly: Assembly, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    """The kit with every switch on (``ALL_SWITCHES``), deployed into a cloud of its own."""
    deployed = deploy_kit(switched_assembly, tmp_path_factory.mktemp("switched"))
    try:
        yield deployed
    finally:
        deployed.cloud.stop()
