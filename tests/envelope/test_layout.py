"""The envelope package's shape (issue 12): no import circle, no reach into another module's private names,
small modules, one definition of the frame layout, a cache that knows nothing of what it holds, and an
optional provider method instead of type checks."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from kmslab.envelope import (
    DataKeyCache,
    EncryptedDataKey,
    RawAesKeyProvider,
    decrypt,
    decrypt_stream,
    encrypt,
    encrypt_stream,
)
from tests.layout import find_circle, private_reaches

PACKAGE = Path(__file__).resolve().parents[2] / "kmslab" / "envelope"
MODULES = {path.stem: path for path in sorted(PACKAGE.glob("*.py"))}


def _trees() -> Iterator[tuple[str, ast.Module]]:
    for name, path in MODULES.items():
        yield name, ast.parse(path.read_text(), str(path))


def _package_imports(tree: ast.Module) -> set[str]:
    """Sibling modules a module imports, at any level (top, TYPE_CHECKING blocks, inside functions)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "kmslab.envelope":
                found.update(alias.name for alias in node.names if alias.name in MODULES)
            elif node.module.startswith("kmslab.envelope."):
                found.add(node.module.removeprefix("kmslab.envelope.").split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kmslab.envelope."):
                    found.add(alias.name.removeprefix("kmslab.envelope.").split(".")[0])
    return found


def test_no_import_circle_in_the_package() -> None:
    graph = {name: _package_imports(tree) - {name, "__init__"} for name, tree in _trees() if name != "__init__"}
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])
    assert graph["cache"] <= {"errors"}  # the cache holds opaque values: it needs nothing else of the package


def test_no_module_reaches_into_another_modules_private_names() -> None:
    def is_module(module: str, name: str) -> bool:
        return module == "kmslab.envelope" and name in MODULES

    assert private_reaches(_trees(), is_module) == []


def test_modules_are_small_or_say_why() -> None:
    for name, path in MODULES.items():
        text = path.read_text()
        if text.count("\n") > 420:
            docstring = ast.get_docstring(ast.parse(text)) or ""
            assert "on purpose" in docstring, f"{name}.py has {text.count(chr(10))} lines and no reason"


def test_frame_layout_is_defined_once() -> None:
    labels = ("AWSKMSEncryptionClient", ">II12sI", "def _check_frame", "def check_frame(")
    for label in labels:
        holders = [name for name, path in MODULES.items() if label in path.read_text()]
        assert holders in ([], ["_format"]), (label, holders)
    for name in ("_oneshot", "_stream"):
        assert "type(provider)" not in MODULES[name].read_text()


# -- the cache owns its counters; values are opaque ---------------------------------------------------------


def test_cache_counts_uses_of_any_value_without_looking_inside() -> None:
    now = [0.0]
    cache = DataKeyCache(max_messages=2, max_bytes=100, max_age_seconds=10, clock=lambda: now[0])
    opaque = object()
    assert cache.take_encrypt(("k",), 10) is None
    assert cache.put_encrypt(("k",), opaque, 10)
    assert cache.take_encrypt(("k",), 10) is opaque  # the second message
    assert cache.take_encrypt(("k",), 10) is None  # max_messages reached: retired
    assert cache.put_encrypt(("k",), opaque, 60)
    assert cache.take_encrypt(("k",), 50) is None  # 60 + 50 bytes would pass max_bytes
    assert cache.put_encrypt(("k",), opaque, 0)
    now[0] = 10.0
    assert cache.take_encrypt(("k",), 0) is None  # too old
    assert not cache.put_encrypt(("k",), opaque, 101)  # one message already over max_bytes
    stats = cache.stats()
    assert (stats.hits, stats.evictions) == (1, 3)


def test_cached_materials_are_shared_and_counted_by_the_cache(raw_provider: RawAesKeyProvider) -> None:
    cache = DataKeyCache(max_messages=3)
    messages = [encrypt(b"x", provider=raw_provider, cache=cache) for _ in range(5)]
    keys = [inspect.encrypted_data_keys[0].ciphertext for inspect in map(_header, messages)]
    assert keys[0] == keys[1] == keys[2] != keys[3] == keys[4]  # three messages per data key
    assert all(decrypt(m, provider=raw_provider).plaintext == b"x" for m in messages)


def _header(message: bytes) -> object:
    from kmslab.envelope import inspect_header

    return inspect_header(message)


# -- the provider protocol's optional EDK-section methods ---------------------------------------------------


class CountingProvider:
    """A provider of another type that offers the optional methods, delegating to a raw AES key."""

    def __init__(self, inner: RawAesKeyProvider) -> None:
        self.inner = inner
        self.calls: list[str] = []

    @property
    def cache_id(self) -> str:
        return "counting:" + self.inner.cache_id

    def generate_data_key(self, encryption_context: Mapping[str, str]) -> tuple[bytes, tuple[EncryptedDataKey, ...]]:
        self.calls.append("generate_data_key")
        return self.inner.generate_data_key(encryption_context)

    def decrypt_data_key(self, edks: Sequence[EncryptedDataKey], encryption_context: Mapping[str, str]) -> bytes:
        self.calls.append("decrypt_data_key")
        return self.inner.decrypt_data_key(edks, encryption_context)

    def wrap_section(self, data_key: bytes, context_bytes: bytes, fresh: bytes) -> bytes:
        self.calls.append("wrap_section")
        return self.inner.wrap_section(data_key, context_bytes, fresh)

    def unwrap_section(self, buffer: bytes, start: int, context_bytes: bytes) -> tuple[bytes, int] | None:
        self.calls.append("unwrap_section")
        return self.inner.unwrap_section(buffer, start, context_bytes)


class PlainProvider(CountingProvider):
    """The same without the optional methods: the general path."""

    wrap_section = None  # type: ignore[assignment]
    unwrap_section = None  # type: ignore[assignment]


def test_optional_section_methods_are_used_by_any_provider_type(raw_provider: RawAesKeyProvider) -> None:
    provider = CountingProvider(raw_provider)
    small = encrypt(b"small", provider=provider, encryption_context={"a": "1"})
    assert provider.calls == ["wrap_section"]
    assert decrypt(small, provider=provider).plaintext == b"small"
    assert decrypt(small, provider=raw_provider).plaintext == b"small"  # the same bytes a raw key writes
    assert provider.calls == ["wrap_section", "unwrap_section"]
    provider.calls.clear()
    big = encrypt(os.urandom(10_000), provider=provider, frame_length=4096)
    assert decrypt(big, provider=provider).plaintext == decrypt(big, provider=raw_provider).plaintext
    assert provider.calls[0] == "wrap_section" and set(provider.calls[1:]) == {"unwrap_section"}


def test_providers_without_the_optional_methods_take_the_general_path(raw_provider: RawAesKeyProvider) -> None:
    import io

    provider = PlainProvider(raw_provider)
    message = encrypt(b"small", provider=provider)
    assert decrypt(message, provider=provider).plaintext == b"small"
    assert provider.calls == ["generate_data_key", "decrypt_data_key"]
    sink, back = io.BytesIO(), io.BytesIO()
    encrypt_stream(io.BytesIO(b"streamed"), sink, provider=provider)
    decrypt_stream(io.BytesIO(sink.getvalue()), back, provider=provider)
    assert back.getvalue() == b"streamed"


@pytest.mark.parametrize("fresh", [b"", bytes(11), bytes(13)])
def test_wrap_section_wants_twelve_fresh_bytes(raw_provider: RawAesKeyProvider, fresh: bytes) -> None:
    from kmslab.envelope import KeyProviderError

    with pytest.raises(KeyProviderError, match="12 fresh random bytes"):
        raw_provider.wrap_section(bytes(32), b"", fresh)
