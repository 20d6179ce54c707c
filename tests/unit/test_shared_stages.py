"""Modules that name one stage share its deployment and Airflow: grouped at collection, entered once,
stopped after the last of them (tests/support/stages.py)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from tests.support import stages


class _Item:
    """What the grouping reads of a test: its closest ``stage`` marker (a real pytest Mark)."""

    def __init__(self, name: str, stage: str | None) -> None:
        self.name = name
        self._mark = pytest.mark.stage(stage).mark if stage else None

    def get_closest_marker(self, name: str):
        return self._mark if name == stages.MARKER else None

    def __repr__(self) -> str:
        return self.name


def test_the_modules_of_a_stage_run_together_at_the_first_ones_place() -> None:
    items = [
        _Item("browser", "scheduler"),
        _Item("dag", None),
        _Item("recovery", "recovery"),
        _Item("scheduler_1", "scheduler"),
        _Item("unit", None),
        _Item("scheduler_2", "scheduler"),
    ]
    stages.group_by_stage(items)
    assert [item.name for item in items] == ["browser", "scheduler_1", "scheduler_2", "dag", "recovery", "unit"]


def test_a_stage_is_entered_once_and_exited_after_its_last_test_in_reverse_order() -> None:
    events: list[str] = []

    @contextmanager
    def part(name: str):
        events.append(f"enter {name}")
        yield name
        events.append(f"exit {name}")

    shared = stages.SharedStages()
    first, second, other = _Item("a", "scheduler"), _Item("b", "scheduler"), _Item("c", "recovery")
    for _ in range(2):  # two modules ask for the same parts
        assert shared.enter("scheduler", "pipeline", lambda: part("pipeline")) == "pipeline"
        assert shared.enter("scheduler", "airflow", lambda: part("airflow")) == "airflow"
    stages.close_if_last(shared, first, second)
    assert events == ["enter pipeline", "enter airflow"]  # the next test still needs them
    stages.close_if_last(shared, second, other)
    assert events == ["enter pipeline", "enter airflow", "exit airflow", "exit pipeline"]
    shared.enter("scheduler", "pipeline", lambda: part("pipeline"))  # asked again: entered anew
    assert events[-1] == "enter pipeline"


def test_an_interrupted_session_exits_every_open_stage_even_when_one_fails() -> None:
    exited: list[str] = []

    @contextmanager
    def part(name: str, fail: bool = False):
        yield name
        exited.append(name)
        if fail:
            raise RuntimeError(f"{name} would not stop")

    shared = stages.SharedStages()
    shared.enter("one", "pipeline", lambda: part("one"))
    shared.enter("two", "pipeline", lambda: part("two", fail=True))
    with pytest.raises(RuntimeError, match="two would not stop"):
        shared.close_all()
    assert exited == ["two", "one"]
