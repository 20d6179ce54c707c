"""infra.table's wait for a GSI to be gone or ACTIVE (the rebuild of a drifted index), with a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import WaiterError

from infra.table import INDEX_ACTIVE, INDEX_GONE, PROGRESS_EVERY_SECONDS, index_state, wait_for_index

INDEX = "batch_shard-index"


def _table(index_status: str | None, table_status: str = "ACTIVE") -> dict[str, Any]:
    indexes = [] if index_status is None else [{"IndexName": INDEX, "IndexStatus": index_status}]
    return {"TableStatus": table_status, "GlobalSecondaryIndexes": indexes}


@pytest.mark.parametrize(
    ("table", "until", "expected"),
    [
        (_table("DELETING"), INDEX_GONE, (False, "DELETING")),
        (_table(None), INDEX_GONE, (True, "absent")),
        ({"TableStatus": "ACTIVE"}, INDEX_GONE, (True, "absent")),
        (_table(None, "UPDATING"), INDEX_GONE, (False, "absent, table UPDATING")),
        (_table("CREATING"), INDEX_ACTIVE, (False, "CREATING")),
        (_table("ACTIVE"), INDEX_ACTIVE, (True, "ACTIVE")),
        (_table(None), INDEX_ACTIVE, (False, "absent")),
        (_table("ACTIVE", "UPDATING"), INDEX_ACTIVE, (False, "ACTIVE, table UPDATING")),
    ],
)
def test_index_state(table: dict[str, Any], until: str, expected: tuple[bool, str]) -> None:
    assert index_state(table, INDEX, until) == expected


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _describe(states: list[dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    answers = iter(states)
    return lambda: next(answers)


def _wait(states: list[dict[str, Any]], until: str, clock: Clock, said: list[str], **kwargs: Any) -> None:
    wait_for_index(_describe(states), "t", INDEX, until, say=said.append, clock=clock, sleep=clock.sleep, **kwargs)


def test_waits_until_the_index_is_gone_and_says_each_new_state() -> None:
    clock, said = Clock(), []
    _wait([_table("DELETING"), _table("DELETING"), _table(None, "UPDATING"), _table(None)], INDEX_GONE, clock, said)
    assert clock.sleeps == [2.0, 2.0, 2.0]
    assert said == [
        f"dynamodb_table t: waiting for index {INDEX} to be gone (DELETING, 0s)",
        f"dynamodb_table t: waiting for index {INDEX} to be gone (absent, table UPDATING, 4s)",
        f"dynamodb_table t: index {INDEX} gone after 6s",
    ]


def test_an_index_already_there_is_not_waited_for_nor_reported() -> None:
    clock, said = Clock(), []
    _wait([_table("ACTIVE")], INDEX_ACTIVE, clock, said)
    assert (clock.sleeps, said) == ([], [])


def test_a_long_wait_repeats_its_progress() -> None:
    clock, said = Clock(), []
    polls = int(PROGRESS_EVERY_SECONDS / 10) * 2 + 1
    _wait([_table("CREATING")] * polls + [_table("ACTIVE")], INDEX_ACTIVE, clock, said, poll=10)
    assert [line for line in said if "waiting" in line] == [
        f"dynamodb_table t: waiting for index {INDEX} to be ACTIVE (CREATING, {s:.0f}s)"
        for s in (0, PROGRESS_EVERY_SECONDS, 2 * PROGRESS_EVERY_SECONDS)
    ]


def test_gives_up_after_the_timeout_with_the_last_state() -> None:
    clock, said = Clock(), []
    with pytest.raises(WaiterError, match=f"index {INDEX} of table t still DELETING after 5s") as err:
        _wait([_table("DELETING")] * 10, INDEX_GONE, clock, said, timeout=5, poll=2)
    assert err.value.last_response == {"Table": _table("DELETING")}
    assert clock.now - 100.0 == 6.0  # polled at 0, 2, 4 and 6 seconds
