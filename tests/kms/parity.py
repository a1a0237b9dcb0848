"""The local KMS parity scorecard, generated from botocore's KMS service model (``make parity``).

Operations come from the model; whether each works comes from the engine's operation table
(the custom key store operations are the named refusals); the three "tested" columns come
from the :func:`tests.kms.helpers.covers` registry, filled by importing the test modules, so a
column says "yes" only where a test that asserts it exists. The key spec matrix is probed
live: each spec x usage is created on an in-memory engine and each algorithm is run once.

Usage: ``python -m tests.kms.parity [--write PATH]`` (prints the page without ``--write``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import pkgutil
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kmslab.kms import LocalKms
from kmslab.kms._specs import NOT_EMULATED, SPECS
from kmslab.kms._validation import service_model
from kmslab.kms.errors import KmsError
from kmslab.kms.ops.custom_stores import OPERATIONS as REFUSED_OPERATIONS
from tests.kms.helpers import COVERAGE

# What AWS offers for the one spec the engine has no KeySpecInfo for (CreateKey's KeyUsage reference).
_AWS_ONLY = {
    "SM2": {"ENCRYPT_DECRYPT": ["SM2PKE"], "SIGN_VERIFY": ["SM2DSA"], "KEY_AGREEMENT": ["ECDH"]},
}


@dataclass(frozen=True)
class OperationRow:
    """One operation of the model and what the local KMS does with it."""

    name: str
    status: str
    states: tuple[str, ...]
    errors: tuple[str, ...]
    trail: tuple[str, ...]
    keyed: bool = True


def _takes_a_key(operation: str) -> bool:
    """Whether the operation's input names a KMS key (so the key-state table applies to it)."""
    model = service_model()
    members = model["shapes"][model["operations"][operation]["input"]["shape"]]["members"]
    return any(name.endswith("KeyId") and name not in ("CustomKeyStoreId", "XksKeyId") for name in members)


@dataclass(frozen=True)
class SpecRow:
    """One key spec x key usage x algorithm, and the outcome of running it."""

    spec: str
    usage: str
    algorithm: str
    outcome: str


def load_coverage() -> dict[str, dict[str, list[str]]]:
    """Import every test module of ``tests.kms`` so their ``covers`` decorators register.

    Returns:
        aspect -> operation -> test names.
    """
    package = importlib.import_module("tests.kms")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("test_"):
            importlib.import_module(f"tests.kms.{module.name}")
    return COVERAGE


def operation_rows() -> list[OperationRow]:
    """Return one row per operation of botocore's model.

    Returns:
        The rows, sorted by operation.
    """
    coverage = load_coverage()
    rows = []
    for name in sorted(service_model()["operations"]):
        if name in REFUSED_OPERATIONS:
            status = "refused: UnsupportedOperationException (custom key stores not emulated)"
        elif name in LocalKms.OPERATIONS:
            status = "implemented"
        else:
            status = "MISSING"
        rows.append(
            OperationRow(
                name,
                status,
                tuple(coverage["states"].get(name, ())),
                tuple(coverage["errors"].get(name, ())),
                tuple(coverage["trail"].get(name, ())),
                _takes_a_key(name) and name not in REFUSED_OPERATIONS,
            )
        )
    return rows


def _probe(kms: LocalKms, spec: str, usage: str, algorithm: str, key_id: str) -> str:
    message = base64.b64encode(b"parity").decode()
    if usage == "SIGN_VERIFY":
        digest = algorithm == "ED25519_PH_SHA_512"
        body = base64.b64encode(hashlib.sha512(b"parity").digest()).decode() if digest else message
        params = {"KeyId": key_id, "Message": body, "SigningAlgorithm": algorithm}
        if digest:
            params["MessageType"] = "DIGEST"
        signature = kms.call("Sign", params)["Signature"]
        kms.call("Verify", {**params, "Signature": signature})
    elif usage == "ENCRYPT_DECRYPT":
        out = kms.call("Encrypt", {"KeyId": key_id, "Plaintext": message, "EncryptionAlgorithm": algorithm})
        kms.call(
            "Decrypt", {"KeyId": key_id, "CiphertextBlob": out["CiphertextBlob"], "EncryptionAlgorithm": algorithm}
        )
    elif usage == "GENERATE_VERIFY_MAC":
        mac = kms.call("GenerateMac", {"KeyId": key_id, "Message": message, "MacAlgorithm": algorithm})["Mac"]
        kms.call("VerifyMac", {"KeyId": key_id, "Message": message, "MacAlgorithm": algorithm, "Mac": mac})
    elif usage == "KEY_AGREEMENT":
        curve = {"ECC_NIST_P256": ec.SECP256R1(), "ECC_NIST_P384": ec.SECP384R1(), "ECC_NIST_P521": ec.SECP521R1()}
        peer = ec.generate_private_key(curve[spec]).public_key()
        der = peer.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        params = {"KeyId": key_id, "KeyAgreementAlgorithm": algorithm, "PublicKey": base64.b64encode(der).decode()}
        kms.call("DeriveSharedSecret", params)
    else:
        out = kms.call("Encapsulate", {"KeyId": key_id, "EncapsulationAlgorithm": algorithm})
        kms.call(
            "Decapsulate",
            {
                "KeyId": key_id,
                "EncapsulationAlgorithm": algorithm,
                "SharedSecretCiphertextBlob": out["SharedSecretCiphertextBlob"],
            },
        )
    return "works"


def spec_rows() -> list[SpecRow]:
    """Create every key spec x usage the model and AWS allow, and run each algorithm once.

    Returns:
        The rows, in the model's KeySpec order.
    """
    kms = LocalKms()
    rows = []
    for spec in service_model()["shapes"]["KeySpec"]["enum"]:
        info = SPECS.get(spec)
        usages: dict[str, list[str]] = (
            {usage: next(iter(info.algorithms(usage).values())) for usage in info.usages}
            if info is not None
            else _AWS_ONLY[spec]
        )
        for usage, algorithms in usages.items():
            try:
                key_id = kms.call("CreateKey", {"KeySpec": spec, "KeyUsage": usage})["KeyMetadata"]["KeyId"]
            except KmsError as exc:
                rows += [SpecRow(spec, usage, a, f"refused at CreateKey: {exc.code}") for a in algorithms]
                continue
            for algorithm in algorithms:
                try:
                    outcome = _probe(kms, spec, usage, algorithm, key_id)
                except KmsError as exc:
                    outcome = f"refused: {exc.code}"
                rows.append(SpecRow(spec, usage, algorithm, outcome))
    kms.close()
    return rows


def _yes(tests: tuple[str, ...], applies: bool = True) -> str:
    if tests:
        return f"yes ({len(tests)})"
    return "-" if applies else "n/a"


def render(operations: list[OperationRow], specs: list[SpecRow]) -> str:
    """Return the scorecard page in Markdown.

    Args:
        operations: from :func:`operation_rows`.
        specs: from :func:`spec_rows`.

    Returns:
        The page.
    """
    implemented = sum(1 for r in operations if r.status == "implemented")
    refused = sum(1 for r in operations if r.status.startswith("refused"))
    working_specs = sum(1 for r in specs if r.outcome == "works")
    lines = [
        "# Parity scorecard: the local KMS against botocore's KMS model",
        "",
        "Generated by `make parity` from botocore's service model "
        f'(botocore {_botocore_version()}); do not edit by hand. A "tested" cell names how many tests',
        "assert that aspect (they carry `covers(...)` in `tests/kms`); the key spec table is a live run",
        "on an in-memory engine.",
        "",
        "## Summary",
        "",
        f"- operations in the model: {len(operations)}",
        f"- implemented: {implemented}; refused with a named UnsupportedOperationException: {refused}; "
        f"missing: {len(operations) - implemented - refused}",
        f"- key states tested: {sum(1 for r in operations if r.states)} of the "
        f"{sum(1 for r in operations if r.keyed)} operations that take a key; errors tested: "
        f"{sum(1 for r in operations if r.errors)}; CloudTrail record tested: {sum(1 for r in operations if r.trail)}",
        f"- key spec x usage x algorithm: {working_specs} of {len(specs)} work; the rest are refused by name",
        "",
        "## Operations",
        "",
        "| operation | status | key states tested | errors tested | CloudTrail record tested |",
        "|---|---|---|---|---|",
    ]
    for row in operations:
        states = _yes(row.states, row.keyed)
        lines.append(f"| {row.name} | {row.status} | {states} | {_yes(row.errors)} | {_yes(row.trail)} |")
    lines += [
        "",
        "## Key specs, usages and algorithms",
        "",
        "| key spec | key usage | algorithm | outcome |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.spec} | {r.usage} | {r.algorithm} | {r.outcome} |" for r in specs]
    lines += ["", "Why the refusals:", ""]
    lines += [f"- {spec}: {reason}" for spec, reason in sorted(NOT_EMULATED.items())]
    lines += [
        "- ED25519_PH_SHA_512: `cryptography` signs pure Ed25519 only; Ed25519ph (HashEdDSA) is not available.",
        "- custom key stores: no CloudHSM cluster or external key store proxy to talk to.",
        "",
    ]
    return "\n".join(lines)


def _botocore_version() -> str:
    import botocore

    return str(botocore.__version__)


def main(argv: list[str] | None = None) -> int:
    """Print the scorecard, or write it to a file.

    Args:
        argv: command-line arguments.

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", type=Path, help="write the page here instead of printing it")
    args = parser.parse_args(argv)
    page = render(operation_rows(), spec_rows())
    if args.write is None:
        sys.stdout.write(page)
    else:
        args.write.write_text(page, encoding="utf-8")
        summary = page.split("## Summary", 1)[1].split("## Operations", 1)[0].strip()
        print(f"wrote {args.write}\n{summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
