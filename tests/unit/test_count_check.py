from __future__ import annotations

from typing import Any

import pytest

from employee_pipeline_ops import count_check as module
from employee_pipeline_ops.batch_count import ShardCount, count_batch, count_shards
from employee_pipeline_ops.count_check import BatchCountMismatchError, DynamoDBBatchCountCheckOperator, shard_mismatches


class PagedClient:
    """A DynamoDB client double answering Query(Select=COUNT) on the GSI in pages of ``page`` items.

    ``partitions`` maps ``batch#shard`` to the load id of each item in it.
    """

    def __init__(self, partitions: dict[str, list[str]], page: int = 2) -> None:
        self.partitions, self.page, self.requests = partitions, page, []

    def query(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        assert request["Select"] == "COUNT" and request["IndexName"] == "gsi"
        assert request["ExpressionAttributeNames"]["#k"] == "batch_shard"
        key = request["ExpressionAttributeValues"][":k"]
        load = request["ExpressionAttributeValues"].get(":l")
        start = request.get("ExclusiveStartKey", {}).get("offset", 0)
        items = self.partitions.get(key, [])[start : start + self.page]
        page: dict[str, Any] = {
            "ScannedCount": len(items),
            "Count": sum(1 for item in items if load is None or item == load),
        }
        if start + len(items) < len(self.partitions.get(key, [])):
            page["LastEvaluatedKey"] = {"offset": start + len(items)}
        return page


def test_counts_every_page_of_every_shard() -> None:
    client = PagedClient({"B#0": ["L"] * 5, "B#1": ["L"] * 2, "B#2": []})
    counts = count_batch(client, table_name="t", index_name="gsi", key_name="batch_shard", batch_id="B", shards=3)
    assert counts == {0: 5, 1: 2, 2: 0}
    assert len(client.requests) == 3 + 1 + 1  # shard 0 needs three pages


def test_counts_separate_the_loads_items_from_any_other() -> None:
    client = PagedClient({"B#0": ["L", "old", "L"], "B#1": ["old"]})
    counts = count_shards(
        client,
        range(3),
        table_name="t",
        index_name="gsi",
        key_name="batch_shard",
        batch_id="B",
        load_attribute="load_id",
        load_id="L",
    )
    assert counts == {0: ShardCount(3, 2), 1: ShardCount(1, 0), 2: ShardCount(0, 0)}
    assert all(r["FilterExpression"] == "#l = :l" for r in client.requests)


def test_shard_mismatches_name_shard_expected_and_found() -> None:
    expected = {0: 3, 1: 2}
    assert shard_mismatches(expected, {0: ShardCount(3, 3), 1: ShardCount(2, 2), 2: ShardCount(0, 0)}) == []
    assert shard_mismatches(expected, {0: ShardCount(3, 2), 1: ShardCount(2, 2), 7: ShardCount(1, 0)}) == [
        "shard 0: expected 3, found 3 (1 not written by this load)",  # a stale item balancing a missing one
        "shard 7: expected 0, found 1 (1 not written by this load)",  # a shard this load did not have
    ]
    assert shard_mismatches(expected, {0: ShardCount(2, 2), 1: ShardCount(2, 2)}) == ["shard 0: expected 3, found 2"]


class FakeHook:
    def __init__(self, client: PagedClient) -> None:
        self.client = client


def _operator(client: PagedClient, expected: dict, monkeypatch: pytest.MonkeyPatch) -> DynamoDBBatchCountCheckOperator:
    operator = DynamoDBBatchCountCheckOperator(
        task_id="count_check",
        table_name="t",
        index_name="gsi",
        batch_id="B",
        expected_per_shard=expected,
        load_id="L",
        shard_limit=4,
        consistency_checks=3,
        consistency_delay=0,
    )
    monkeypatch.setattr(DynamoDBBatchCountCheckOperator, "hook", FakeHook(client))
    return operator


def test_passes_when_every_shard_holds_exactly_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    client = PagedClient({"B#0": ["L"] * 3, "B#1": ["L"] * 4})
    assert _operator(client, {"0": 3, "1": 4}, monkeypatch).execute({}) == 7
    queried = {r["ExpressionAttributeValues"][":k"] for r in client.requests}
    assert queried == {"B#0", "B#1", "B#2", "B#3"}  # every shard a batch can have, not only the load's


def test_fails_naming_the_shard_with_a_stale_item_even_when_totals_match(monkeypatch: pytest.MonkeyPatch) -> None:
    client = PagedClient({"B#0": ["L", "L", "old"], "B#1": ["L"] * 4})
    with pytest.raises(BatchCountMismatchError, match=r"shard 0: expected 3, found 3 \(1 not written by this load\)"):
        _operator(client, {"0": 3, "1": 4}, monkeypatch).execute({})


def test_fails_for_an_item_in_a_shard_the_load_did_not_have(monkeypatch: pytest.MonkeyPatch) -> None:
    client = PagedClient({"B#0": ["L"] * 3, "B#3": ["old"]})
    with pytest.raises(BatchCountMismatchError, match=r"batch B as load L wrote it: shard 3: expected 0, found 1"):
        _operator(client, {"0": 3}, monkeypatch).execute({})


def test_rechecks_until_the_index_catches_up(monkeypatch: pytest.MonkeyPatch) -> None:
    client = PagedClient({"B#0": ["L"] * 3, "B#1": ["L"] * 3})
    original = module.count_shards
    calls = []

    def lagging(*args: Any, **kwargs: Any) -> dict[int, ShardCount]:
        calls.append(1)
        counts = original(*args, **kwargs)
        return {**counts, 0: ShardCount(2, 2)} if len(calls) == 1 else counts

    monkeypatch.setattr(module, "count_shards", lagging)
    assert _operator(client, {"0": 3, "1": 3}, monkeypatch).execute({}) == 6
    assert len(calls) == 2


@pytest.mark.parametrize("expected", [{}, {"4": 1}, "3"])
def test_expected_counts_must_name_shards_of_the_batch(monkeypatch: pytest.MonkeyPatch, expected: object) -> None:
    with pytest.raises(ValueError, match="expected_per_shard"):
        _operator(PagedClient({}), expected, monkeypatch).execute({})  # type: ignore[arg-type]


def test_templated_fields_follow_the_provider_style() -> None:
    fields = set(DynamoDBBatchCountCheckOperator.template_fields)
    assert {"table_name", "index_name", "batch_id", "expected_per_shard", "load_id", "aws_conn_id"} <= fields
