"""The local AWS's IAM audit between two moments: which decisions a piece of work made, with its own counts."""

from __future__ import annotations

from typing import Any

from local_aws import stats


def _decision(call: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(call[k] for k in ("principal", "action", "resource", "allowed", "policy", "statement", "reason"))


def calls_since(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The audit's entries that are new or were counted again since ``before``, with this period's counts."""
    counted = {_decision(call): call["count"] for call in before}
    return [
        {**call, "count": call["count"] - counted.get(_decision(call), 0)}
        for call in after
        if call["count"] > counted.get(_decision(call), 0)
    ]


def calls(endpoint: str) -> list[dict[str, Any]]:
    """Every decision the local AWS at ``endpoint`` has recorded so far (the audit's ``calls``)."""
    audit = stats.iam_audit(endpoint)
    assert audit["enforced"], "the local AWS runs with IAM off: nothing was refused, nothing is proven"
    return audit["calls"]
