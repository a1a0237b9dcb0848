"""Policy documents: parsing and validation into frozen statements.

One parser serves key policies (which need a Principal in every statement) and IAM
identity policies (which must not have one). Errors are AWS KMS's
``MalformedPolicyDocumentException`` with AWS's wording where AWS's is known.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kmslab.kms.errors import MalformedPolicyDocumentException
from kmslab.kms.policy._conditions import parse_operator

PolicyKind = Literal["key", "identity"]

#: AWS KMS's message for a principal it cannot resolve.
INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals."
#: AWS KMS's message for a key policy statement without Principal or NotPrincipal.
NO_PRINCIPAL = "Policy contains a statement with no principal."
#: NotPrincipal with Allow: IAM's NotPrincipal reference says "NotPrincipal must be used with
#: "Effect":"Deny". Using it with "Effect":"Allow" is not supported." (It would allow everyone else.)
NOT_PRINCIPAL_ALLOW = "Policy contains a statement with NotPrincipal and Effect Allow, which is not supported."

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_PARTITION = r"aws(?:-cn|-us-gov|-iso(?:-[a-z])?)?"
_IAM_PRINCIPAL_RE = re.compile(
    rf"^arn:{_PARTITION}:iam::(\d{{12}}):(root|user/[\w+=,.@/-]+|role/[\w+=,.@/-]+|federated-user/[\w+=,.@-]+)$"
)
_STS_PRINCIPAL_RE = re.compile(rf"^arn:{_PARTITION}:sts::(\d{{12}}):assumed-role/[\w+=,.@-]+/[\w+=,.@-]+$")
_SERVICE_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(?:\.cn)?$")
_VERSIONS = ("2012-10-17", "2008-10-17")
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)


@dataclass(frozen=True)
class Principals:
    """The principals a ``Principal``/``NotPrincipal`` element names.

    Args:
        anyone: the element is ``"*"`` or ``{"AWS": "*"}``.
        aws: AWS principal ARNs; an account ID is stored as its root ARN.
        service: service principals such as ``s3.amazonaws.com``.
        federated: federated principals (never match a local caller).
    """

    anyone: bool = False
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statement:
    """One statement of a policy.

    Args:
        index: the statement's position in the document (0-based).
        sid: the ``Sid``, if any.
        effect: ``Allow`` or ``Deny``.
        principal: the ``Principal`` element, if any.
        not_principal: the ``NotPrincipal`` element, if any.
        actions: ``Action`` patterns, or None when the statement uses ``NotAction`` (or has neither).
        not_actions: ``NotAction`` patterns, or None.
        resources: ``Resource`` patterns, or None.
        not_resources: ``NotResource`` patterns, or None.
        condition: operator -> condition key -> values (all strings).
    """

    index: int
    sid: str | None
    effect: str
    principal: Principals | None = None
    not_principal: Principals | None = None
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    condition: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """A short name for the statement: its Sid, else its position."""
        return self.sid if self.sid else f"statement #{self.index + 1}"


@dataclass(frozen=True)
class Policy:
    """A parsed policy document.

    Args:
        statements: the statements, in document order.
        version: the ``Version`` element, if any.
        id: the ``Id`` element, if any.
        kind: ``key`` for a key policy, ``identity`` for an IAM policy.
    """

    statements: tuple[Statement, ...]
    version: str | None = None
    id: str | None = None
    kind: PolicyKind = "key"


def _fail(message: str) -> MalformedPolicyDocumentException:
    return MalformedPolicyDocumentException(message)


def _strings(value: Any, element: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise _fail(f"Policy contains a statement with an empty {element} element.")
    out = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise _fail(f"Policy contains a statement with an invalid {element} element.")
        out.append(item)
    return tuple(out)


def _principal_arn(value: str) -> str:
    if _ACCOUNT_RE.match(value):
        return f"arn:aws:iam::{value}:root"
    if value == "*" or _IAM_PRINCIPAL_RE.match(value) or _STS_PRINCIPAL_RE.match(value):
        return value
    raise _fail(INVALID_PRINCIPALS)


def _principals(value: Any) -> Principals:
    if value == "*":
        return Principals(anyone=True)
    if not isinstance(value, dict) or not value:
        raise _fail(INVALID_PRINCIPALS)
    aws: list[str] = []
    service: list[str] = []
    federated: list[str] = []
    for kind, raw in value.items():
        names = _strings(raw, "Principal") if raw != [] else ()
        if not names:
            raise _fail(INVALID_PRINCIPALS)
        if kind == "AWS":
            aws.extend(_principal_arn(name) for name in names)
        elif kind == "Service":
            if not all(_SERVICE_RE.match(name) for name in names):
                raise _fail(INVALID_PRINCIPALS)
            service.extend(names)
        elif kind == "Federated":
            federated.extend(names)
        else:
            raise _fail(INVALID_PRINCIPALS)
    anyone = "*" in aws
    return Principals(
        anyone=anyone, aws=tuple(a for a in aws if a != "*"), service=tuple(service), federated=tuple(federated)
    )


def _condition(value: Any) -> dict[str, dict[str, tuple[str, ...]]]:
    if not isinstance(value, dict):
        raise _fail("Policy contains a statement with an invalid Condition element.")
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for operator, block in value.items():
        try:
            parse_operator(operator)
        except ValueError:
            raise _fail(f"Policy contains a statement with an unknown condition operator: {operator}.") from None
        if not isinstance(block, dict) or not block:
            raise _fail(f"Policy contains a statement with an invalid condition block for {operator}.")
        keys: dict[str, tuple[str, ...]] = {}
        for key, raw in block.items():
            items = raw if isinstance(raw, list) else [raw]
            values = []
            for item in items:
                if isinstance(item, bool):
                    values.append("true" if item else "false")
                elif isinstance(item, (str, int, float)):
                    values.append(str(item))
                else:
                    raise _fail(f"Policy contains a statement with an invalid value for condition key {key}.")
            keys[key] = tuple(values)
        out[operator] = keys
    return out


def _statement(index: int, raw: Any, kind: PolicyKind, stored: bool) -> Statement:
    if not isinstance(raw, dict):
        raise _fail("Policy contains a statement that is not a JSON object.")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise _fail(f"Policy contains a statement with an unknown element: {sorted(unknown)[0]}.")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise _fail("Policy contains a statement with an invalid Effect: it must be Allow or Deny.")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise _fail("Policy contains a statement with an invalid Sid.")
    for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
        if a in raw and b in raw:
            raise _fail(f"Policy contains a statement with both {a} and {b}.")
    principal = not_principal = None
    if kind == "key":
        if "Principal" not in raw and "NotPrincipal" not in raw:
            raise _fail(NO_PRINCIPAL)
        if "NotPrincipal" in raw and effect == "Allow" and not stored:
            raise _fail(NOT_PRINCIPAL_ALLOW)
        principal = _principals(raw["Principal"]) if "Principal" in raw else None
        not_principal = _principals(raw["NotPrincipal"]) if "NotPrincipal" in raw else None
    elif "Principal" in raw or "NotPrincipal" in raw:
        raise _fail("An identity-based policy cannot have a Principal element.")
    return Statement(
        index=index,
        sid=sid,
        effect=effect,
        principal=principal,
        not_principal=not_principal,
        actions=_strings(raw["Action"], "Action") if "Action" in raw else None,
        not_actions=_strings(raw["NotAction"], "NotAction") if "NotAction" in raw else None,
        resources=_strings(raw["Resource"], "Resource") if "Resource" in raw else None,
        not_resources=_strings(raw["NotResource"], "NotResource") if "NotResource" in raw else None,
        condition=_condition(raw["Condition"]) if "Condition" in raw else {},
    )


def parse_policy(document: str | Mapping[str, Any], *, kind: PolicyKind = "key", stored: bool = False) -> Policy:
    """Parse and validate a policy document.

    A key policy statement without ``Action`` or ``Resource`` is accepted and never matches,
    as AWS KMS accepts it ("the policy statement has no effect").

    Args:
        document: JSON text, or an already-parsed dict (for example a ``KeyPolicy`` taken from a
            synthesized CloudFormation template with resolved ARNs).
        kind: ``key`` (every statement needs a principal) or ``identity`` (no principal allowed).
        stored: the key policy is already on a key, set before Allow + NotPrincipal was refused:
            such a statement is kept (it never applies) instead of failing every request on the key,
            which would lock its owner out of PutKeyPolicy too.

    Returns:
        The parsed policy.

    Raises:
        MalformedPolicyDocumentException: the document is malformed.
    """
    if isinstance(document, str):
        try:
            doc = json.loads(document)
        except json.JSONDecodeError as exc:
            raise _fail(f"The policy document is not valid JSON: {exc.msg} at line {exc.lineno}.") from None
    else:
        doc = document
    if not isinstance(doc, Mapping):
        raise _fail("The policy document must be a JSON object.")
    version = doc.get("Version")
    if version is not None and version not in _VERSIONS:
        raise _fail(f"The policy document has an invalid Version: {version}.")
    pid = doc.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise _fail("The policy document has an invalid Id.")
    unknown = set(doc) - {"Version", "Id", "Statement"}
    if unknown:
        raise _fail(f"The policy document has an unknown element: {sorted(unknown)[0]}.")
    raw = doc.get("Statement")
    if raw is None:
        raise _fail("The policy document has no Statement element.")
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise _fail("The policy document has an empty Statement element.")
    statements = tuple(_statement(i, item, kind, stored) for i, item in enumerate(items))
    return Policy(statements=statements, version=version, id=pid, kind=kind)
