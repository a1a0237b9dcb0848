"""Every operation that names a key answers NotFoundException, AWS-worded, for a key that does not exist.

The requests are built from botocore's model: each required member gets the smallest value its
shape accepts, and the key members name a well-formed key ID that no key has.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kmslab.kms import LocalKms
from kmslab.kms._validation import service_model
from kmslab.kms.errors import NotFoundException
from tests.kms.helpers import covers

MISSING = "11111111-2222-3333-4444-555555555555"
_KEY_MEMBERS = ("KeyId", "TargetKeyId", "DestinationKeyId", "SourceKeyId")
_SAMPLES = {"PrimaryRegion": "eu-west-1", "ReplicaRegion": "eu-west-1", "AliasName": "alias/missing"}


def _value(name: str, shape_name: str) -> Any:
    shapes = service_model()["shapes"]
    shape = shapes[shape_name]
    if name in _KEY_MEMBERS:
        return MISSING
    if name in _SAMPLES:
        return _SAMPLES[name]
    kind = shape["type"]
    if kind == "string":
        return shape["enum"][0] if "enum" in shape else "x" * max(1, shape.get("min", 1))
    if kind == "blob":
        return base64.b64encode(b"x" * max(1, shape.get("min", 1))).decode()
    if kind in ("integer", "long"):
        return shape.get("min", 1)
    if kind == "list":
        member = shape["member"]["shape"]
        return [_value("", member)]
    if kind == "structure":
        return {m: _value(m, s["shape"]) for m, s in shape["members"].items() if m in shape.get("required", ())}
    if kind == "boolean":
        return False
    raise AssertionError(kind)


def _keyed_operations() -> list[str]:
    model = service_model()
    out = []
    for name, operation in sorted(model["operations"].items()):
        shape = model["shapes"][operation["input"]["shape"]]
        if any(member in shape.get("required", ()) for member in _KEY_MEMBERS):
            out.append(name)
    return out


KEYED = _keyed_operations()


# Members a request needs beyond the model's required ones, so the key lookup is what fails.
_EXTRA: dict[str, dict[str, Any]] = {
    "GenerateDataKey": {"KeySpec": "AES_256"},
    "GenerateDataKeyWithoutPlaintext": {"KeySpec": "AES_256"},
    "ReEncrypt": {"CiphertextBlob": base64.b64encode(b"x" * 64).decode()},
}


def _request(operation: str) -> dict[str, Any]:
    model = service_model()
    shape = model["operations"][operation]["input"]["shape"]
    return {**_value("", shape), **_EXTRA.get(operation, {})}


@covers(*KEYED, aspect="errors")
@pytest.mark.parametrize("operation", KEYED)
def test_a_missing_key_is_not_found(operation: str) -> None:
    engine = LocalKms(None)
    try:
        params = _request(operation)
        if operation == "UpdateAlias":  # the alias exists; the key it should point to does not
            existing = engine.call("CreateKey", {})["KeyMetadata"]["KeyId"]
            engine.call("CreateAlias", {"AliasName": "alias/missing", "TargetKeyId": existing})
        with pytest.raises(NotFoundException) as exc:
            engine.call(operation, params)
    finally:
        engine.close()
    assert exc.value.message == f"Key 'arn:aws:kms:us-east-1:{engine.account}:key/{MISSING}' does not exist"


def test_the_list_covers_the_operations_that_name_a_key() -> None:
    assert {"Encrypt", "Decapsulate", "DeriveSharedSecret", "GetKeyLastUsage", "UpdatePrimaryRegion"} <= set(KEYED)
    assert "GenerateRandom" not in KEYED and "CreateKey" not in KEYED
