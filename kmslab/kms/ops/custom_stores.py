"""Custom key stores: the six operations, each refused with a named UnsupportedOperationException.

An AWS CloudHSM key store needs a CloudHSM cluster and an external key store needs an XKS
proxy; the local KMS emulates neither, so it says so, after the same permission check AWS
makes (a caller without the permission still gets AccessDeniedException first).
"""

from __future__ import annotations

from typing import Any

from kmslab.kms._context import RequestContext
from kmslab.kms.errors import UnsupportedOperationException

_WHAT = (
    "custom key stores (AWS CloudHSM key stores backed by a CloudHSM cluster, and external key stores "
    "reached through an XKS proxy) are not emulated by the local KMS"
)


def _refuse(operation: str) -> Any:
    def handler(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ctx.authorize(f"kms:{operation}", None)
        raise UnsupportedOperationException(f"{operation}: {_WHAT}.")

    handler.__name__ = handler.__qualname__ = operation
    handler.__doc__ = f"{operation}: refused, {_WHAT}."
    return handler


OPERATIONS = (
    "CreateCustomKeyStore",
    "ConnectCustomKeyStore",
    "DeleteCustomKeyStore",
    "DescribeCustomKeyStores",
    "DisconnectCustomKeyStore",
    "UpdateCustomKeyStore",
)

HANDLERS = {operation: _refuse(operation) for operation in OPERATIONS}
