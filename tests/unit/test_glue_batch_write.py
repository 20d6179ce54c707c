"""The Glue job's DynamoDB batch writer: throttling and unprocessed items are retried and counted."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from employee_ingest import clients, writes
from employee_ingest.fence import Fence, LeaseLostError


class FlakyClient:
    """BatchWriteItem double: scripted outcomes, then success."""

    def __init__(self, script: list[str]) -> None:
        self.script, self.calls, self.sent = list(script), [], []

    def batch_write_item(self, RequestItems: dict[str, list]) -> dict[str, Any]:
        requests = RequestItems["t"]
        self.calls.append(len(requests))
        self.sent.extend(requests)
        outcome = self.script.pop(0) if self.script else "ok"
        if outcome == "throttle":
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException"}, "ResponseMetadata": {"RetryAttempts": 9}},
                "BatchWriteItem",
            )
        if outcome == "half":
            return {"UnprocessedItems": {"t": requests[len(requests) // 2 :]}, "ResponseMetadata": {"RetryAttempts": 0}}
        return {"UnprocessedItems": {}, "ResponseMetadata": {"RetryAttempts": 2 if outcome == "slow" else 0}}


def _items(n: int) -> list[dict]:
    return [{"emp_id": {"S": str(i)}} for i in range(n)]


def test_unprocessed_items_are_resent_until_written() -> None:
    client = FlakyClient(["half", "half"])
    retries = writes.batch_write(client, "t", _items(20), sleep=lambda _: None)
    assert client.calls == [20, 10, 5]
    assert retries == 2


def test_throttling_is_retried_and_counted_with_botocores_own_retries() -> None:
    client = FlakyClient(["throttle", "slow"])
    retries = writes.batch_write(client, "t", _items(3), sleep=lambda _: None)
    assert client.calls == [3, 3]
    assert retries == (1 + 9) + 2


def test_endless_throttling_fails_loudly() -> None:
    client = FlakyClient(["half"] * 50)
    with pytest.raises(RuntimeError, match="still throttles after 12 attempts"):
        writes.batch_write(client, "t", _items(4), sleep=lambda _: None)


def test_other_errors_are_not_swallowed() -> None:
    class Broken:
        def batch_write_item(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "BatchWriteItem")

    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        writes.batch_write(Broken(), "t", _items(1), sleep=lambda _: None)


class Row:
    """What write_items reads of a Spark Row."""

    def __init__(self, emp_id: str) -> None:
        self.values = {"emp_id": emp_id, "age": 30, "city": None}

    def asDict(self) -> dict[str, Any]:
        return self.values


class ConcurrentClient:
    """BatchWriteItem double that records every item and the most requests in flight at once."""

    def __init__(self) -> None:
        import threading

        self.lock, self.items, self.in_flight, self.most = threading.Lock(), [], 0, 0
        self.fence_checks: list[str] = []
        self.lease_lost = False

    def update_item(self, **request: Any) -> dict[str, Any]:
        """The lease table: the fence's conditional no-op update."""
        self.fence_checks.append(request["ConditionExpression"])
        if self.lease_lost:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "UpdateItem")
        return {"Attributes": {}}

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {"Item": {"owner": {"S": "dag/other@env"}, "loading": {"S": "jr_other"}}}

    def batch_write_item(self, RequestItems: dict[str, list]) -> dict[str, Any]:
        import time

        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.items.extend(r["PutRequest"]["Item"] for r in RequestItems["t"])
        time.sleep(0.01)
        with self.lock:
            self.in_flight -= 1
        return {"UnprocessedItems": {}, "ResponseMetadata": {"RetryAttempts": 1}}


def test_write_items_sends_every_row_once_with_requests_overlapping(monkeypatch: pytest.MonkeyPatch) -> None:
    client = ConcurrentClient()
    monkeypatch.setattr(clients.boto3, "client", lambda *args, **kwargs: client)
    rows = [Row(f"e{i}") for i in range(1001)]

    assert list(writes.write_items(iter(rows), "t", FENCE)) == [(1001, 41)]  # 41 requests: 40 of 25 and one of 1
    assert client.fence_checks == ["#o = :owner AND expires_at > :now AND #l = :load"]
    assert sorted(item["emp_id"]["S"] for item in client.items) == sorted(f"e{i}" for i in range(1001))
    assert all("city" not in item and item["age"] == {"N": "30"} for item in client.items)
    assert 1 < client.most <= writes.WRITE_THREADS


FENCE = Fence("leases", "20261125T14", "dag/run@env", "jr_this")


def test_write_items_writes_nothing_once_the_lease_is_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    client = ConcurrentClient()
    client.lease_lost = True
    monkeypatch.setattr(clients.boto3, "client", lambda *args, **kwargs: client)

    with pytest.raises(LeaseLostError, match=r"not leased to DAG run 'dag/run@env' for load jr_this but to "):
        list(writes.write_items(iter([Row("e1")]), "t", FENCE))
    assert client.items == []


def test_stale_keys_are_deleted_25_to_a_request() -> None:
    client = FlakyClient([])
    writes.batch_write(client, "t", _items(25), sleep=lambda _: None, delete=True)
    assert client.calls == [25]
    assert client.sent == [{"DeleteRequest": {"Key": key}} for key in _items(25)]
