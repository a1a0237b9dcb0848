"""The kit deployed once per test session: the default config, and every switch at once (``ALL_SWITCHES``).

moto keeps its services' state per process, so one process runs one kit's cloud at a time: the tests are
ordered so that each configuration's tests run together (its state-changing modules last: the scenario, then
the destroy), and under pytest-xdist each configuration's modules go to one worker (the scheduler in
``tests/conftest.py``), so each kit is deployed once. Asking for the other kit stops the running one first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kmslab.cloud.deploy import Assembly
from tests.integration.kit import ALL_SWITCHES, DEFAULT, ORDER, Kit, deploy_kit, synthesized

_HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the integration tests grouped by configuration, in ``ORDER``; other tests keep their place."""
    ours = [i for i in items if Path(str(i.path)).parent == _HERE and i.path.stem in ORDER]
    if not ours:
        return
    first = items.index(ours[0])
    rest = [i for i in items if i not in set(ours)]
    ours.sort(key=lambda i: ORDER[i.path.stem])  # stable: file order within a module
    items[:] = rest[:first] + ours + rest[first:]


class Kits:
    """The kit deployed in this process: at most one cloud runs; another configuration replaces it."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._assemblies: dict[str, Assembly] = {}
        self._name: str | None = None
        self._kit: Kit | None = None

    def assembly(self, name: str) -> Assembly:
        if name not in self._assemblies:
            self._assemblies[name] = synthesized(self._tmp, DEFAULT if name == "default" else ALL_SWITCHES)
        return self._assemblies[name]

    def get(self, name: str) -> Kit:
        """The running kit of configuration ``name`` (``default`` or ``switched``), deployed if needed."""
        if self._kit is not None and self._name == name:
            return self._kit
        self.stop()
        self._kit = deploy_kit(self.assembly(name), self._tmp.mktemp(name))
        self._name = name
        return self._kit

    def retire(self, kit: Kit) -> None:
        """Forget a kit whose stacks a test destroyed (the next ``get`` deploys afresh)."""
        if kit is self._kit:
            self.stop()

    def stop(self) -> None:
        if self._kit is not None:
            self._kit.cloud.stop()
        self._kit = self._name = None


@pytest.fixture(scope="session")
def kits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kits]:
    manager = Kits(tmp_path_factory)
    try:
        yield manager
    finally:
        manager.stop()


@pytest.fixture
def kit(kits: Kits) -> Kit:
    """The default kit (cdk.json's context)."""
    return kits.get("default")


@pytest.fixture
def switched(kits: Kits) -> Kit:
    """The kit with every switch on (``ALL_SWITCHES``)."""
    return kits.get("switched")


@pytest.fixture
def default_assembly(kits: Kits) -> Assembly:
    return kits.assembly("default")
