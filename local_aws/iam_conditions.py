"""The ``Condition`` element of an IAM policy statement, evaluated as IAM evaluates it.

Operators: every one of IAM's condition operators (String*, Numeric*, Date*, Bool, BinaryEquals,
IpAddress/NotIpAddress, Arn*, Null), their ``...IfExists`` forms and the ``ForAllValues:`` /
``ForAnyValue:`` set operators. Within a statement every operator must hold, within an operator
every key, and a key holds when any of the policy's values matches. A key missing from the request
does not match, except for the negated operators and ``...IfExists`` (which then hold), as IAM's
"Condition operators" reference says.

A key the local AWS does not compute for the request (``RequestContext.known``) or an operator it
does not know raises ``NotUnderstoodError``: the request is refused and the message names it,
rather than a statement being applied or skipped on a guess.
"""

from __future__ import annotations

import base64
import fnmatch
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class NotUnderstoodError(ValueError):
    """A condition operator or key the local AWS cannot evaluate: the request is refused."""


@dataclass
class RequestContext:
    """Condition key -> value(s) of one request (keys lower-cased), and which keys are computed at all."""

    values: dict[str, str | list[str]] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)

    def get(self, key: str) -> list[str] | None:
        lowered = key.lower()
        if lowered not in self.known and lowered not in self.values:
            raise NotUnderstoodError(f"the condition key {key} is not evaluated by the local AWS")
        value = self.values.get(lowered)
        if value is None:
            return None
        return list(value) if isinstance(value, list) else [value]


def _like(pattern: str, value: str) -> bool:
    # IAM's wildcards: * and ? only (fnmatch's [..] sets are escaped).
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> datetime:
    if re.fullmatch(r"\d+", text):
        return datetime.fromtimestamp(int(text), UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _arn_like(pattern: str, value: str) -> bool:
    # ARN operators compare the six colon-separated parts one by one.
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    return len(pattern_parts) == len(value_parts) == 6 and all(
        _like(p, v) for p, v in zip(pattern_parts, value_parts, strict=True)
    )


def _in_network(network: str, address: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)


# operator -> (compare(policy value, request value), negated)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    "NumericEquals": (lambda p, v: _number(v) == _number(p), False),
    "NumericNotEquals": (lambda p, v: _number(v) == _number(p), True),
    "NumericLessThan": (lambda p, v: _number(v) < _number(p), False),
    "NumericLessThanEquals": (lambda p, v: _number(v) <= _number(p), False),
    "NumericGreaterThan": (lambda p, v: _number(v) > _number(p), False),
    "NumericGreaterThanEquals": (lambda p, v: _number(v) >= _number(p), False),
    "DateEquals": (lambda p, v: _date(v) == _date(p), False),
    "DateNotEquals": (lambda p, v: _date(v) == _date(p), True),
    "DateLessThan": (lambda p, v: _date(v) < _date(p), False),
    "DateLessThanEquals": (lambda p, v: _date(v) <= _date(p), False),
    "DateGreaterThan": (lambda p, v: _date(v) > _date(p), False),
    "DateGreaterThanEquals": (lambda p, v: _date(v) >= _date(p), False),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
    "BinaryEquals": (lambda p, v: base64.b64decode(p) == base64.b64decode(v), False),
    "IpAddress": (_in_network, False),
    "NotIpAddress": (_in_network, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
}


def _as_list(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in values]


def _substitute(value: str, context: RequestContext) -> str:
    """Policy variables such as ``${aws:username}``; one the request lacks refuses it (as no match would)."""

    def variable(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("*", "?", "$"):
            return name
        found = context.get(name)
        if not found:
            raise NotUnderstoodError(f"the policy variable ${{{name}}} has no value in this request")
        return found[0]

    return _VARIABLE.sub(variable, value)


def _key_holds(operator: str, key: str, policy_values: list[str], context: RequestContext) -> bool:
    set_operator, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base == "Null":
        present = context.get(key) is not None
        return any((value.lower() == "true") != present for value in policy_values)
    if base not in _OPERATORS or set_operator not in ("", "ForAllValues", "ForAnyValue"):
        raise NotUnderstoodError(f"the condition operator {operator} is not evaluated by the local AWS")
    compare, negated = _OPERATORS[base]
    request_values = context.get(key)
    wanted = [_substitute(value, context) for value in policy_values]

    def matches(value: str) -> bool:
        hit = any(compare(policy_value, value) for policy_value in wanted)
        return not hit if negated else hit

    if set_operator == "ForAllValues":
        return all(matches(value) for value in request_values or [])
    if set_operator == "ForAnyValue":
        return any(matches(value) for value in request_values or [])
    if request_values is None:
        return if_exists or negated
    return any(matches(value) for value in request_values)


def conditions_hold(condition: dict[str, Any] | None, context: RequestContext) -> bool:
    """Whether a statement's ``Condition`` holds for the request ``context``."""
    for operator, pairs in (condition or {}).items():
        for key, value in pairs.items():
            if not _key_holds(operator, key, _as_list(value), context):
                return False
    return True


def keys_of(condition: dict[str, Any] | None) -> Iterable[str]:
    for pairs in (condition or {}).values():
        yield from pairs
