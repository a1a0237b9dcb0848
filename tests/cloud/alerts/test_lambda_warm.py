"""Warm execution environments: reused between invocations, replaced when the code or configuration changes.

Lambda keeps an environment (its imports, module state and clients) between invocations of one
function configuration, and never shares it with another configuration; the environment keeps the
function's timeout and memory limit, and its credentials are those of the execution role.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kmslab.cloud.alerts._workers import Worker, WorkerPool
from tests.cloud.alerts.conftest import TRUST_LAMBDA, zip_of

COUNTER = """
import os

CALLS = []

def handler(event, context):
    CALLS.append(1)
    return {"pid": os.getpid(), "calls": len(CALLS), "greeting": os.environ.get("GREETING"),
            "version": VERSION, "key": os.environ["AWS_ACCESS_KEY_ID"], "stream": context.log_stream_name}

VERSION = "%s"
"""

HOG = """
def handler(event, context):
    block = bytearray(event["mib"] * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)
"""

SLEEPY = """
import os, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return os.getpid()
"""


def _create(cloud: Any, unique: Any, role: str, code: str, **extra: Any) -> str:
    name = unique("warm")
    extra.setdefault("Timeout", 30)
    cloud.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": code})},
        Environment={"Variables": {"GREETING": "hello"}},
        **extra,
    )
    return name


def _invoke(cloud: Any, name: str, event: dict[str, Any] | None = None) -> tuple[Any, str | None]:
    out = cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    return json.loads(out["Payload"].read()), out.get("FunctionError")


def test_an_environment_is_reused_with_its_module_state(cloud, unique, make_role) -> None:
    name = _create(cloud, unique, make_role(), COUNTER % "1")
    first, error = _invoke(cloud, name)
    assert error is None
    second, _ = _invoke(cloud, name)
    assert second["pid"] == first["pid"]
    assert (first["calls"], second["calls"]) == (1, 2)
    assert second["stream"] == first["stream"]  # one log stream per environment
    assert second["key"] == first["key"]  # the role's credentials of the environment


def test_new_configuration_or_code_gets_a_new_environment(cloud, unique, make_role) -> None:
    lam = cloud.client("lambda")
    name = _create(cloud, unique, make_role(), COUNTER % "1")
    first, _ = _invoke(cloud, name)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"GREETING": "bonjour"}})
    second, _ = _invoke(cloud, name)
    assert second["greeting"] == "bonjour"
    assert second["pid"] != first["pid"] and second["calls"] == 1
    assert second["key"] != first["key"]  # the new environment assumed the role again
    lam.update_function_code(FunctionName=name, ZipFile=zip_of({"app.py": COUNTER % "2"}))
    third, _ = _invoke(cloud, name)
    assert third["version"] == "2" and third["pid"] != second["pid"] and third["calls"] == 1


def test_the_memory_limit_stops_the_environment(cloud, unique, make_role) -> None:
    name = _create(cloud, unique, make_role(), HOG, MemorySize=128)
    fits, error = _invoke(cloud, name, {"mib": 8})
    assert error is None and fits == 8 * 1024 * 1024
    killed, error = _invoke(cloud, name, {"mib": 400})
    assert error == "Unhandled"
    assert killed["errorType"] == "Runtime.OutOfMemory"
    again, error = _invoke(cloud, name, {"mib": 8})  # a fresh environment serves the next invocation
    assert error is None and again == 8 * 1024 * 1024


def test_a_timed_out_environment_is_replaced(cloud, unique, make_role) -> None:
    name = _create(cloud, unique, make_role(), SLEEPY, Timeout=1)
    first, _ = _invoke(cloud, name)
    timed_out, error = _invoke(cloud, name, {"sleep": 5})
    assert error == "Unhandled" and timed_out["errorType"] == "Sandbox.Timedout"
    after, error = _invoke(cloud, name)
    assert error is None and after != first


def test_a_role_lambda_may_no_longer_assume_stops_even_a_warm_environment(cloud, unique, make_role) -> None:
    role = make_role()
    name = _create(cloud, unique, role, SLEEPY)
    _, error = _invoke(cloud, name)
    assert error is None
    untrusted = {**TRUST_LAMBDA, "Statement": [{**TRUST_LAMBDA["Statement"][0], "Effect": "Deny"}]}
    iam = cloud.client("iam")
    iam.update_assume_role_policy(RoleName=role.rsplit("/", 1)[-1], PolicyDocument=json.dumps(untrusted))
    try:
        cloud.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    except cloud.client("lambda").exceptions.InvalidParameterValueException as exc:
        assert "cannot be assumed by Lambda" in str(exc)
    else:
        raise AssertionError("expected InvalidParameterValueException")


def _sleeper(tmp_path: Path, key: str, expires: float) -> Worker:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdin=subprocess.PIPE)  # noqa: S603
    return Worker(process, key, expires, tmp_path / key, "stream")


def test_the_pool_retires_stale_configurations_and_expiring_credentials(tmp_path: Path) -> None:
    pool = WorkerPool(max_idle=2)
    started: list[Worker] = []

    def start(key: str, expires: float) -> Worker:
        worker = _sleeper(tmp_path, f"{key}-{len(started)}", expires)
        worker.key = key
        started.append(worker)
        return worker

    try:
        fresh = pool.take("fn", "a", timeout=3, start=lambda: start("a", time.time() + 3600))
        pool.give_back("fn", fresh)
        assert pool.take("fn", "a", timeout=3, start=lambda: start("a", time.time() + 3600)) is fresh
        pool.give_back("fn", fresh)
        # the configuration changed: the idle environment of the old one is stopped, a new one starts
        other = pool.take("fn", "b", timeout=3, start=lambda: start("b", time.time() + 90))
        assert other is not fresh and fresh.process.wait(5) is not None
        pool.give_back("fn", other)
        # its credentials would expire within the timeout and a minute: retired too
        renewed = pool.take("fn", "b", timeout=60, start=lambda: start("b", time.time() + 3600))
        assert renewed is not other and other.process.wait(5) is not None
        pool.give_back("fn", renewed)
        assert pool.started == 3
    finally:
        pool.close()
        for worker in started:
            worker.stop()
    assert all(w.process.poll() is not None for w in started)


def test_no_idle_workers_means_a_fresh_environment_every_time(tmp_path: Path) -> None:
    pool = WorkerPool(max_idle=0)
    one = pool.take("fn", "a", timeout=3, start=lambda: _sleeper(tmp_path, "a", time.time() + 3600))
    pool.give_back("fn", one)
    assert one.process.wait(5) is not None
    two = pool.take("fn", "a", timeout=3, start=lambda: _sleeper(tmp_path, "b", time.time() + 3600))
    assert two is not one
    pool.give_back("fn", two)
    pool.close()


def test_a_handler_that_cannot_be_imported_fails_as_lambda_says(cloud, unique, make_role) -> None:
    name = _create(cloud, unique, make_role(), "import not_a_module_anywhere\n")
    error, kind = _invoke(cloud, name)
    assert kind == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == "Unable to import module 'app': No module named 'not_a_module_anywhere'"
