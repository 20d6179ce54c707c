"""Counting one batch in DynamoDB through the ``batch_id#shard`` GSI."""

from __future__ import annotations

from typing import Any


def batch_shard_key(batch_id: str, shard: int) -> str:
    return f"{batch_id}#{shard}"


def count_batch(
    client: Any, *, table_name: str, index_name: str, key_name: str, batch_id: str, shards: int
) -> dict[int, int]:
    """Items per shard, by ``Query(Select=COUNT)`` on the GSI, following every page.

    One query per shard partition: never a Scan, and never a hot key that holds
    the whole batch.
    """
    paginator = client.get_paginator("query")
    counts: dict[int, int] = {}
    for shard in range(shards):
        pages = paginator.paginate(
            TableName=table_name,
            IndexName=index_name,
            KeyConditionExpression="#k = :v",
            ExpressionAttributeNames={"#k": key_name},
            ExpressionAttributeValues={":v": {"S": batch_shard_key(batch_id, shard)}},
            Select="COUNT",
        )
        counts[shard] = sum(page["Count"] for page in pages)
    return counts
