"""The stage a test module deploys, declared by its ``pytest.mark.stage(NAME)`` in ``pytestmark``.

The module-scoped fixtures that deploy a stage or build a bundle (``pipeline``, ``bundle``) read it
through the ``module_stage`` fixture. Modules that name the same stage share its deployment and its
Airflow (``SharedStages``): they run one after the other, and what they share is stopped after the last.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from typing import Any

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


def group_by_stage(items: list[pytest.Item]) -> None:
    """At collection: the tests of every module that names a stage follow the first of them, so what a
    stage's modules share is up once, for all of them together. Other tests keep their order."""
    blocks: list[list[pytest.Item]] = []
    by_stage: dict[str, list[pytest.Item]] = {}
    for item in items:
        stage = marked_stage(item)
        if stage is None:
            blocks.append([item])
        elif stage in by_stage:
            by_stage[stage].append(item)
        else:
            by_stage[stage] = [item]
            blocks.append(by_stage[stage])
    items[:] = [item for block in blocks for item in block]


class SharedStages:
    """What the module-scoped fixtures entered for each stage (its deployment, its Airflow), kept while
    consecutive modules name that stage, and exited in reverse order once the last of them is done."""

    def __init__(self) -> None:
        self._stacks: dict[str, ExitStack] = {}
        self._entered: dict[tuple[str, str], Any] = {}

    def enter(self, stage: str, what: str, make: Callable[[], AbstractContextManager[Any]]) -> Any:
        """``make()`` entered once per stage, for every module that asks for ``what`` of ``stage``."""
        key = (stage, what)
        if key not in self._entered:
            stack = self._stacks.setdefault(stage, ExitStack())
            self._entered[key] = stack.enter_context(make())
        return self._entered[key]

    def close(self, stage: str) -> None:
        self._entered = {key: value for key, value in self._entered.items() if key[0] != stage}
        stack = self._stacks.pop(stage, None)
        if stack is not None:
            stack.close()

    def close_all(self) -> None:
        """Every stage still open (an interrupted session), the last one entered first."""
        with ExitStack() as stacks:
            for stage in list(self._stacks):
                stacks.callback(self.close, stage)


def close_if_last(stages: SharedStages, item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After ``item``'s teardown: its stage's shared parts stop when no next test names that stage."""
    stage = marked_stage(item)
    if stage is not None and (nextitem is None or marked_stage(nextitem) != stage):
        stages.close(stage)
