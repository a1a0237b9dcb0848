"""Shared test setup: offline, with fake AWS credentials, and the Lambda asset roots importable."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.assembly import CACHE_ENV

# Tests never reach AWS: fake credentials and a fixed region, set before boto3 is imported anywhere.
os.environ["AWS_ACCESS_KEY_ID"] = "AKIAIOSFODNN7EXAMPLE"
os.environ["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # noqa: S105 - the documented example key
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_REGION"] = "us-east-1"
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


class _KitScheduler:
    """Under ``-n``/``--dist load``: each deployed kit's integration tests on one worker, the rest as ``load``.

    Every test is its own scope except the integration modules of one kit configuration, which form one scope
    (``tests/integration/kit.py`` ``ORDER``), so each kit is deployed once, on one worker.
    """

    def pytest_xdist_make_scheduler(self, config: Any, log: Any) -> Any:
        if config.getvalue("dist") != "load":
            return None
        from xdist.scheduler import LoadScopeScheduling

        from tests.integration.kit import ORDER

        groups = {f"tests/integration/{module}.py": f"kmslab-kit-{kit}" for module, (kit, _) in ORDER.items()}

        class KitScheduling(LoadScopeScheduling):  # type: ignore[misc]
            def _split_scope(self, nodeid: str) -> str:
                return groups.get(nodeid.split("::", 1)[0], nodeid)

        return KitScheduling(config, log)


def pytest_configure(config: Any) -> None:
    """Schedule the integration kits (above) when pytest-xdist runs the tests."""
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_KitScheduler(), "kmslab-kit-scheduler")


@pytest.fixture(scope="session", autouse=True)
def _synth_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One directory per test run where ``tests.assembly.synthesize_kit`` keeps each configuration's synth."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    os.environ[CACHE_ENV] = str(shared / "kmslab-synth")
