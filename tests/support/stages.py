"""The stage a test module deploys, declared by its ``pytest.mark.stage(NAME)`` in ``pytestmark``.

The module-scoped fixtures that deploy a stage or build a bundle (``pipeline``, ``bundle``) read it
through the ``module_stage`` fixture; each module names its own stage, so modules never share one.
"""

from __future__ import annotations

import pytest

MARKER = "stage"
# The e2e stage whose policies test_iam_statement_removed cuts: the IAM audit expects refusals there only.
IAM_CUT = "iamcut"


def marked_stage(node: pytest.Item | pytest.Collector) -> str | None:
    """The name the closest ``stage`` marker gives, or None."""
    marker = node.get_closest_marker(MARKER)
    if marker is None:
        return None
    if len(marker.args) != 1 or not isinstance(marker.args[0], str) or marker.kwargs:
        raise pytest.UsageError(f"{node.nodeid}: write the stage marker as pytest.mark.stage(NAME), not {marker}")
    return marker.args[0]


def module_stage(module: pytest.Collector) -> str:
    """The stage of ``module`` (a module-scoped fixture's ``request.node``)."""
    stage = marked_stage(module)
    if stage is None:
        raise pytest.UsageError(f"{module.nodeid} has no pytestmark = pytest.mark.stage(NAME): the stage it deploys")
    return stage


def check_marked(items: list[pytest.Item], fixture: str = "module_stage") -> None:
    """At collection: every test that needs ``fixture`` sits in a module whose ``pytestmark`` names a stage."""
    modules = {item.getparent(pytest.Module) for item in items if fixture in getattr(item, "fixturenames", ())}
    unmarked = sorted(module.nodeid for module in modules if module is not None and marked_stage(module) is None)
    if unmarked:
        raise pytest.UsageError(f"no pytest.mark.stage(NAME) in {', '.join(unmarked)}: their fixtures deploy a stage")
