"""Condition operators: StringEquals, ArnLike, IpAddress, ForAnyValue:..., ...IfExists and the rest.

A condition block holds when every operator holds; an operator holds when every key holds;
a key holds when the request's value matches any of the policy's values (for negated
operators: none of them). Condition key names are case-insensitive; ``context`` passed here
must already be keyed by lower-case names.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kmslab.kms.policy._match import arn_match, glob_match

Matcher = Callable[[str, str], bool]


def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _ip(context: str, policy: str) -> bool:
    try:
        return ipaddress.ip_address(context) in ipaddress.ip_network(policy, strict=False)
    except ValueError:
        return False


def _numeric(compare: Callable[[float, float], bool]) -> Matcher:
    def match(context: str, policy: str) -> bool:
        try:
            return compare(_number(context), _number(policy))
        except ValueError:
            return False

    return match


def _dated(compare: Callable[[float, float], bool]) -> Matcher:
    def match(context: str, policy: str) -> bool:
        try:
            return compare(_date(context), _date(policy))
        except ValueError:
            return False

    return match


def _binary(context: str, policy: str) -> bool:
    try:
        return base64.b64decode(context) == base64.b64decode(policy)
    except ValueError:
        return False


#: operator name -> (matcher of one request value against one policy value, negated)
_OPERATORS: dict[str, tuple[Matcher, bool]] = {
    "StringEquals": (lambda c, p: c == p, False),
    "StringNotEquals": (lambda c, p: c == p, True),
    "StringEqualsIgnoreCase": (lambda c, p: c.casefold() == p.casefold(), False),
    "StringNotEqualsIgnoreCase": (lambda c, p: c.casefold() == p.casefold(), True),
    "StringLike": (lambda c, p: glob_match(p, c), False),
    "StringNotLike": (lambda c, p: glob_match(p, c), True),
    "NumericEquals": (_numeric(lambda c, p: c == p), False),
    "NumericNotEquals": (_numeric(lambda c, p: c == p), True),
    "NumericLessThan": (_numeric(lambda c, p: c < p), False),
    "NumericLessThanEquals": (_numeric(lambda c, p: c <= p), False),
    "NumericGreaterThan": (_numeric(lambda c, p: c > p), False),
    "NumericGreaterThanEquals": (_numeric(lambda c, p: c >= p), False),
    "DateEquals": (_dated(lambda c, p: c == p), False),
    "DateNotEquals": (_dated(lambda c, p: c == p), True),
    "DateLessThan": (_dated(lambda c, p: c < p), False),
    "DateLessThanEquals": (_dated(lambda c, p: c <= p), False),
    "DateGreaterThan": (_dated(lambda c, p: c > p), False),
    "DateGreaterThanEquals": (_dated(lambda c, p: c >= p), False),
    "Bool": (lambda c, p: c.lower() == p.lower(), False),
    "BinaryEquals": (_binary, False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
    "ArnEquals": (lambda c, p: arn_match(p, c), False),
    "ArnLike": (lambda c, p: arn_match(p, c), False),
    "ArnNotEquals": (lambda c, p: arn_match(p, c), True),
    "ArnNotLike": (lambda c, p: arn_match(p, c), True),
}


@dataclass(frozen=True)
class Operator:
    """A parsed condition operator such as ``ForAllValues:StringLikeIfExists``.

    Args:
        name: the operator as written.
        base: the base operator (``StringLike``) or ``Null``.
        set_operator: ``ForAnyValue``, ``ForAllValues`` or None.
        if_exists: the ``IfExists`` suffix was used.
    """

    name: str
    base: str
    set_operator: str | None
    if_exists: bool


def parse_operator(name: str) -> Operator:
    """Parse a condition operator name.

    Args:
        name: the operator as written in the policy.

    Returns:
        The parsed operator.

    Raises:
        ValueError: the operator is unknown.
    """
    set_operator = None
    rest = name
    if ":" in name:
        set_operator, rest = name.split(":", 1)
        if set_operator not in ("ForAnyValue", "ForAllValues"):
            raise ValueError(name)
    if_exists = rest.endswith("IfExists")
    base = rest[: -len("IfExists")] if if_exists else rest
    if base == "Null":
        if if_exists or set_operator:
            raise ValueError(name)
    elif base not in _OPERATORS:
        raise ValueError(name)
    return Operator(name=name, base=base, set_operator=set_operator, if_exists=if_exists)


def _as_strings(value: Any) -> list[str]:
    items = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, datetime):
            out.append(item.isoformat())
        else:
            out.append(str(item))
    return out


def check_key(operator: Operator, key: str, policy_values: tuple[str, ...], context: Mapping[str, Any]) -> bool:
    """Decide one condition key under one operator.

    Args:
        operator: the parsed operator.
        key: the condition key name as written in the policy.
        policy_values: the policy's values for the key.
        context: the request's condition keys, keyed by lower-case name.

    Returns:
        True when this part of the condition holds.
    """
    raw = context.get(key.lower())
    present = raw is not None and not (isinstance(raw, (list, tuple, set, frozenset)) and not raw)
    if operator.base == "Null":
        return any((v.lower() == "true") != present for v in policy_values)
    if raw is None:
        if operator.if_exists or operator.set_operator == "ForAllValues":
            return True
        if operator.set_operator == "ForAnyValue":
            return False
        return _OPERATORS[operator.base][1]
    values = _as_strings(raw)
    match, negated = _OPERATORS[operator.base]

    def hit(value: str) -> bool:
        return any(match(value, p) for p in policy_values)

    if operator.set_operator == "ForAllValues":
        return all((not hit(v)) if negated else hit(v) for v in values)
    if operator.set_operator == "ForAnyValue":
        return any((not hit(v)) if negated else hit(v) for v in values)
    found = any(hit(v) for v in values)
    return not found if negated else found


def failing_condition(condition: Mapping[str, Mapping[str, tuple[str, ...]]], context: Mapping[str, Any]) -> str | None:
    """Find the first part of a condition block that does not hold.

    Args:
        condition: operator -> key -> policy values.
        context: the request's condition keys, keyed by lower-case name.

    Returns:
        None when the whole block holds, else a one-line description of what failed.
    """
    for name, block in condition.items():
        operator = parse_operator(name)
        for key, values in block.items():
            if not check_key(operator, key, values, context):
                actual = context.get(key.lower())
                shown = "absent" if actual is None else repr(actual)
                return f"{name} {key} {list(values)} does not hold (request value: {shown})"
    return None
