"""Counting one batch in DynamoDB through the ``batch_id#shard`` GSI."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key


def batch_shard_key(batch_id: str, shard: int) -> str:
    return f"{batch_id}#{shard}"


def count_batch(table: Any, *, index_name: str, key_name: str, batch_id: str, shards: int) -> dict[int, int]:
    """Items per shard of ``table`` (a boto3 ``Table``), by ``Query(Select=COUNT)`` on the GSI.

    One query per shard partition, following every page: never a Scan, and
    never a hot key holding the whole batch.
    """
    counts: dict[int, int] = {}
    for shard in range(shards):
        request: dict[str, Any] = {
            "IndexName": index_name,
            "KeyConditionExpression": Key(key_name).eq(batch_shard_key(batch_id, shard)),
            "Select": "COUNT",
        }
        counts[shard] = 0
        while True:
            page = table.query(**request)
            counts[shard] += page["Count"]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return counts
