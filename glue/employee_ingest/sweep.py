"""Replace, not merge: the batch's items another load wrote are deleted, in every shard earlier loads used."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pyspark import SparkContext

from employee_ingest.clients import client
from employee_ingest.writes import DYNAMODB_BATCH, batch_write
from employee_pipeline.config import GSI_KEY, GSI_NAME, LOAD_ATTRIBUTE, TABLE_KEY
from employee_pipeline.layout import batch_shard_key


def sweep_stale_items(shards: Iterable[int], table_name: str, batch_id: str, load_id: str) -> Iterator[int]:
    """Executor side: delete the batch's items that another load wrote, in the given shards; yields the count.

    One paginated Query per shard on the ``batch_id#shard`` index (never a Scan), then the stale keys
    25 to a BatchWriteItem. Unconditional deletes are safe: the load holds the batch's lease (no
    other load writes it), and an item's ``emp_id`` names its batch and shard, so no other batch's
    load can have rewritten it since the index was read.
    """
    dynamodb = client("dynamodb")
    removed = 0
    for shard in shards:
        request: dict[str, Any] = {
            "TableName": table_name,
            "IndexName": GSI_NAME,
            "KeyConditionExpression": "#g = :g",
            "FilterExpression": "attribute_not_exists(#l) OR #l <> :load",
            "ProjectionExpression": "#k",
            "ExpressionAttributeNames": {"#g": GSI_KEY, "#l": LOAD_ATTRIBUTE, "#k": TABLE_KEY},
            "ExpressionAttributeValues": {":g": {"S": batch_shard_key(batch_id, shard)}, ":load": {"S": load_id}},
        }
        while True:
            page = dynamodb.query(**request)
            keys = [{TABLE_KEY: item[TABLE_KEY]} for item in page.get("Items", [])]
            for start in range(0, len(keys), DYNAMODB_BATCH):
                batch_write(dynamodb, table_name, keys[start : start + DYNAMODB_BATCH], delete=True)
            removed += len(keys)
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    yield removed


def sweep_batch(sc: SparkContext, shards: int, table_name: str, batch_id: str, load_id: str) -> int:
    """Driver side: sweep shards ``0 .. shards - 1`` in parallel Spark tasks; the items removed."""
    if not shards:  # a first load has nothing to sweep: nothing is read back
        return 0
    slices = min(shards, 2 * sc.defaultParallelism)
    return sum(
        sc.parallelize(range(shards), slices)
        .mapPartitions(lambda part: sweep_stale_items(part, table_name, batch_id, load_id))
        .collect()
    )
