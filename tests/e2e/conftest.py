"""Whole DAG runs (`airflow dags test`) against the session's local AWS.

Each module deploys its own stage, named by its ``pytest.mark.stage(NAME)``; the ``pipeline`` and
``airflow`` fixtures are tests/conftest.py's (implemented in tests/support/), shared with the browser tier.
"""

from __future__ import annotations

import pytest

AFTER_THE_TIER = "test_iam_audit"  # reads the IAM audit of every other e2e run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The audit module's tests move to just after the last other e2e test."""
    audit = [item for item in items if item.module.__name__.endswith(f".{AFTER_THE_TIER}")]
    if not audit:
        return
    rest = [item for item in items if item not in audit]
    e2e = [index for index, item in enumerate(rest) if item.module.__name__.startswith("tests.e2e.")]
    at = e2e[-1] + 1 if e2e else len(rest)
    items[:] = rest[:at] + audit + rest[at:]
