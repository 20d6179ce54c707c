"""Bucket-policy evaluation for the local AWS.

moto applies a statement whenever it cannot evaluate its condition, so the
TLS-only policy (Deny if ``aws:SecureTransport`` is false) would deny every
request. Here the emulator stands in for AWS's TLS endpoints: requests count
as secure transport, and a statement whose ``Bool`` condition on a known key
does not hold does not apply, as on AWS.
"""

from __future__ import annotations

import json
from typing import Any

REQUEST_CONTEXT = {"aws:securetransport": "true"}


def _split_conditions(condition: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """(whether the known conditions hold, the conditions left for moto)."""
    holds, rest = True, {}
    for operator, pairs in condition.items():
        remaining = {}
        for key, expected in pairs.items():
            known = REQUEST_CONTEXT.get(key.lower())
            if operator == "Bool" and known is not None:
                values = expected if isinstance(expected, list) else [expected]
                holds = holds and known in [str(v).lower() for v in values]
            else:
                remaining[key] = expected
        if remaining:
            rest[operator] = remaining
    return holds, rest


def bucket_permission(self: Any, action: str, resource: str) -> Any:
    """Replacement for moto's ``FakeBucket.get_permission``."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    statements = json.loads(self.policy.decode())["Statement"]
    permitted = False
    for statement in statements if isinstance(statements, list) else [statements]:
        holds, rest = _split_conditions(statement.get("Condition", {}))
        if not holds:
            continue
        statement = {k: v for k, v in statement.items() if k != "Condition"} | ({"Condition": rest} if rest else {})
        result = IAMPolicyStatement(statement).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return result
        permitted = permitted or result == PermissionResult.PERMITTED
    return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL
