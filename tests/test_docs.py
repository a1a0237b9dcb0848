"""The Python examples in the README and the workshop guide run as written against the local KMS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from kmslab.kms import LocalKms
from kmslab.kms.server import KmsServer

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED_URL = "http://127.0.0.1:4599"
# the guide's own blocks run in tests/guide (kmslab.guide.blocks); here, the README's Python examples
DOCS = [ROOT / "README.md"]


def python_blocks() -> list[tuple[str, int, str]]:
    found = []
    for path in DOCS:
        text = path.read_text()
        for match in re.finditer(r"```python\n(.*?)```", text, re.S):
            line = text[: match.start()].count("\n") + 1
            found.append((path.relative_to(ROOT).as_posix(), line, match.group(1)))
    return found


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with KmsServer(LocalKms(), port=0) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server.url)
        yield server.url


def test_there_are_examples_to_check() -> None:
    assert len(python_blocks()) >= 2


@pytest.mark.parametrize(
    ("doc", "line", "code"), [pytest.param(*block, id=f"{block[0]}:{block[1]}") for block in python_blocks()]
)
def test_python_example_runs(doc: str, line: int, code: str, endpoint: str, tmp_path: Path) -> None:
    # the guide's chapters build on earlier ones: the demo key of chapter 1 exists
    kms = boto3.client("kms", endpoint_url=endpoint)
    key_id = kms.create_key(Description="docs")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/kmslab/demo", TargetKeyId=key_id)
    code = code.replace(DOCUMENTED_URL, endpoint).replace("/tmp/kms-data", str(tmp_path / "kms-data"))
    exec(compile(code, f"{doc}:{line}", "exec"), {"__name__": "__doc_example__"})  # noqa: S102 - our own docs
