"""Grants: does a grant let this caller do this operation with this encryption context?

Grants are shaped as ListGrants returns them (``GrantId``, ``GranteePrincipal``,
``RetiringPrincipal``, ``Operations``, ``Constraints``, ...). In a grant constraint the
encryption context *keys* compare without regard to case and the *values* with it (AWS KMS
API reference, GrantConstraints).

A grant that carries a constraint and includes ``CreateGrant`` passes its constraint on: the
CreateGrant API reference says "the constraint requires that any grants created with the
CreateGrant permission have an equally strict or stricter encryption context constraint".
:func:`constraint_at_least_as_strict` is that rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kmslab.kms.operation_groups import ENCRYPTION_CONTEXT
from kmslab.kms.policy._principals import is_root, root_arn
from kmslab.kms.seams import Caller

#: Context key the engine sets on CreateGrant to hand the new grant's ``Constraints`` (``{}`` for
#: none) to the authorizer. Not an AWS condition key: the ``kmslab:`` prefix keeps policies off it.
NEW_GRANT_CONSTRAINTS_KEY = "kmslab:NewGrantConstraints"

#: Grant operations whose requests carry an encryption context, so grant constraints apply.
CONSTRAINED_OPERATIONS = ENCRYPTION_CONTEXT


def _principal_is(grant_principal: str | None, caller: Caller) -> bool:
    if not grant_principal:
        return False
    if grant_principal == caller.arn:
        return True
    # A role as grantee covers its assumed-role sessions.
    if ":role/" in grant_principal and ":assumed-role/" in caller.arn:
        role_name = grant_principal.rsplit("/", 1)[1]
        session_account = caller.arn.split(":")[4]
        grant_account = grant_principal.split(":")[4]
        return caller.arn.split("/")[1] == role_name and session_account == grant_account
    return grant_principal == root_arn(caller.account) and is_root(caller)


def constraints_hold(grant: Mapping[str, Any], context: Mapping[str, str]) -> str | None:
    """Check a grant's encryption-context constraints against a request's encryption context.

    Args:
        grant: the grant.
        context: the request's encryption context.

    Returns:
        None when the constraints hold (or there are none), else why not.
    """
    constraints = grant.get("Constraints") or {}
    lowered = {k.lower(): v for k, v in context.items()}
    subset = constraints.get("EncryptionContextSubset")
    if subset is not None:
        for key, value in subset.items():
            if lowered.get(key.lower()) != value:
                return f"EncryptionContextSubset needs {key}={value}"
    equals = constraints.get("EncryptionContextEquals")
    if equals is not None:
        wanted = {k.lower(): v for k, v in equals.items()}
        if wanted != lowered:
            return f"EncryptionContextEquals needs exactly {dict(equals)}"
    return None


def _lowered(pairs: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in pairs.items()}


def constraint_at_least_as_strict(parent: Mapping[str, Any] | None, child: Mapping[str, Any] | None) -> str | None:
    """Tell whether a new grant's constraint is as strict as the constraint of the grant creating it.

    The rule (AWS KMS API reference, CreateGrant ``Constraints``): a grant created with the
    CreateGrant permission of a constrained grant needs an equally strict or stricter encryption
    context constraint. So under ``EncryptionContextEquals`` only the same ``EncryptionContextEquals``
    pairs qualify; under ``EncryptionContextSubset``, an ``EncryptionContextSubset`` with the same
    pairs or more, or an ``EncryptionContextEquals`` that holds them all. Keys compare without regard
    to case and values with it, as in every grant constraint.

    Args:
        parent: the ``Constraints`` of the grant that allows CreateGrant (None or empty: none).
        child: the ``Constraints`` of the grant being created (None or empty: none).

    Returns:
        None when the new constraint is strict enough, else why not.
    """
    parent = parent or {}
    child = child or {}
    child_equals = child.get("EncryptionContextEquals")
    child_subset = child.get("EncryptionContextSubset")
    equals = parent.get("EncryptionContextEquals")
    if equals is not None:
        if child_equals is not None and _lowered(child_equals) == _lowered(equals) and child_subset is None:
            return None
        return f"this grant has EncryptionContextEquals {dict(equals)}; a grant it creates needs the same constraint"
    subset = parent.get("EncryptionContextSubset")
    if subset is not None:
        wanted = _lowered(subset).items()
        for pairs in (child_subset, child_equals):
            if pairs is not None and wanted <= _lowered(pairs).items():
                return None
        return (
            f"this grant has EncryptionContextSubset {dict(subset)}; a grant it creates needs an "
            "EncryptionContextSubset or EncryptionContextEquals constraint that includes those pairs"
        )
    return None


def grant_allows(
    grant: Mapping[str, Any],
    *,
    caller: Caller,
    operation: str,
    encryption_context: Mapping[str, str],
    key_spec: str | None,
    requested_operations: Sequence[str] | None = None,
    requested_constraints: Mapping[str, Any] | None = None,
) -> str | None:
    """Tell whether one grant allows an operation.

    Args:
        grant: the grant, ListGrants-shaped.
        caller: who asks.
        operation: the operation name (``Decrypt``, no ``kms:`` prefix).
        encryption_context: the request's encryption context.
        key_spec: the key's spec; constraints apply to symmetric keys only.
        requested_operations: for CreateGrant, the operations of the grant being created
            (``kms:GrantOperations``); they must be among this grant's operations.
        requested_constraints: for CreateGrant, the ``Constraints`` of the grant being created
            (None or empty: none); they must be as strict as this grant's (see
            :func:`constraint_at_least_as_strict`).

    Returns:
        None when the grant allows the operation, else why not.
    """
    if not _principal_is(grant.get("GranteePrincipal"), caller):
        return f"grantee is {grant.get('GranteePrincipal')}, not {caller.arn}"
    operations = grant.get("Operations") or []
    if operation not in operations:
        return f"{operation} is not among the grant operations {list(operations)}"
    if operation in CONSTRAINED_OPERATIONS and key_spec in (None, "SYMMETRIC_DEFAULT"):
        return constraints_hold(grant, encryption_context)
    if operation == "CreateGrant":
        if requested_operations is not None:
            extra = sorted(set(requested_operations) - set(operations))
            if extra:
                return f"a grant may only pass on its own operations; {extra} are not in {list(operations)}"
        return constraint_at_least_as_strict(grant.get("Constraints"), requested_constraints)
    return None


def may_retire(grant: Mapping[str, Any], caller: Caller, key_account: str) -> bool:
    """Tell whether a caller may retire a grant, as AWS KMS allows.

    The retiring principal may; the grantee principal may when the grant includes the
    ``RetireGrant`` operation; the root user of the account the grant was created in may.

    Args:
        grant: the grant.
        caller: who asks.
        key_account: the account that owns the key.

    Returns:
        True when the caller may retire the grant.
    """
    if _principal_is(grant.get("RetiringPrincipal"), caller):
        return True
    if "RetireGrant" in (grant.get("Operations") or []) and _principal_is(grant.get("GranteePrincipal"), caller):
        return True
    issuing = grant.get("IssuingAccount") or root_arn(key_account)
    return is_root(caller) and issuing in (caller.arn, caller.account)
