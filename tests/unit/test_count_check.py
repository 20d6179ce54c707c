from __future__ import annotations

from typing import Any

import pytest

from employee_pipeline_ops import count_check as module
from employee_pipeline_ops.batch_count import count_batch
from employee_pipeline_ops.count_check import BatchCountMismatchError, DynamoDBBatchCountCheckOperator


class PagedTable:
    """A Table double answering Query(Select=COUNT) in pages of ``page`` items."""

    def __init__(self, per_key: dict[str, int], page: int = 2) -> None:
        self.per_key, self.page, self.requests = per_key, page, []

    def query(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        assert request["Select"] == "COUNT" and request["IndexName"] == "gsi"
        key = request["KeyConditionExpression"].get_expression()["values"][1]
        start = request.get("ExclusiveStartKey", {}).get("offset", 0)
        total = self.per_key.get(key, 0)
        count = min(self.page, total - start)
        page: dict[str, Any] = {"Count": count}
        if start + count < total:
            page["LastEvaluatedKey"] = {"offset": start + count}
        return page


def test_counts_every_page_of_every_shard() -> None:
    table = PagedTable({"B#0": 5, "B#1": 2, "B#2": 0})
    counts = count_batch(table, index_name="gsi", key_name="batch_shard", batch_id="B", shards=3)
    assert counts == {0: 5, 1: 2, 2: 0}
    assert len(table.requests) == 3 + 1 + 1  # shard 0 needs three pages


class FakeHook:
    def __init__(self, table: PagedTable) -> None:
        self.conn = type("Resource", (), {"Table": lambda _self, name: table})()


def _operator(table: PagedTable, expected: int, monkeypatch: pytest.MonkeyPatch) -> DynamoDBBatchCountCheckOperator:
    operator = DynamoDBBatchCountCheckOperator(
        task_id="count_check",
        table_name="t",
        index_name="gsi",
        batch_id="B",
        shards="2",
        expected_count=str(expected),
        consistency_checks=3,
        consistency_delay=0,
    )
    monkeypatch.setattr(DynamoDBBatchCountCheckOperator, "hook", FakeHook(table))
    return operator


def test_passes_when_the_count_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _operator(PagedTable({"B#0": 3, "B#1": 4}), 7, monkeypatch).execute({}) == 7


def test_fails_with_both_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    table = PagedTable({"B#0": 3, "B#1": 3})
    with pytest.raises(BatchCountMismatchError, match=r"holds 6 items for batch B .* but 7 were expected"):
        _operator(table, 7, monkeypatch).execute({})
    assert len(table.requests) == 3 * 4  # two pages per shard, rechecked consistency_checks times


def test_rechecks_until_the_index_catches_up(monkeypatch: pytest.MonkeyPatch) -> None:
    table = PagedTable({"B#0": 3, "B#1": 3})
    original = module.count_batch
    calls = []

    def lagging(*args: Any, **kwargs: Any) -> dict[int, int]:
        calls.append(1)
        counts = original(*args, **kwargs)
        return {0: counts[0] - 1, 1: counts[1]} if len(calls) == 1 else counts

    monkeypatch.setattr(module, "count_batch", lagging)
    assert _operator(table, 6, monkeypatch).execute({}) == 6
    assert len(calls) == 2


def test_templated_fields_follow_the_provider_style() -> None:
    fields = set(DynamoDBBatchCountCheckOperator.template_fields)
    assert {"table_name", "index_name", "batch_id", "shards", "expected_count", "aws_conn_id", "region_name"} <= fields
