"""Which mutating AWS operations the local AWS served between two of its request-count snapshots."""

from __future__ import annotations

MUTATING = ("Create", "Put", "Update", "Delete", "Tag", "Untag", "Publish", "Upload", "Set")


def mutations(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, int]:
    """``service:Operation`` -> how many more times it was called, for each operation that changes AWS."""
    return {
        f"{service}:{operation}": count - before.get(service, {}).get(operation, 0)
        for service, operations in after.items()
        for operation, count in operations.items()
        if operation.startswith(MUTATING) and count != before.get(service, {}).get(operation, 0)
    }
