"""DynamoDB writes in Spark tasks: BatchWriteItem 25 at a time, several in flight, throttling retried."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from employee_ingest.clients import WRITE_CONFIG, client
from employee_ingest.fence import Fence
from employee_ingest.rules import dynamo_value

DYNAMODB_BATCH = 25  # BatchWriteItem's limit
MAX_WRITE_ATTEMPTS = 12
WRITE_THREADS = 4  # BatchWriteItem requests in flight per Spark task (within botocore's 10-connection pool)
THROTTLING_ERRORS = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}


def _backoff(attempt: int) -> float:
    return min(5.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2)


def batch_write(
    dynamodb: Any, table_name: str, items: list[dict[str, Any]], sleep: Any = time.sleep, *, delete: bool = False
) -> int:
    """Put up to 25 typed items (with ``delete``: delete up to 25 typed keys); retry throttling and
    unprocessed requests. Returns the retries needed.

    botocore retries a throttled call by itself (counted from RetryAttempts);
    requests DynamoDB hands back as unprocessed are re-sent here with backoff.
    """
    pending = [{"DeleteRequest": {"Key": item}} if delete else {"PutRequest": {"Item": item}} for item in items]
    retries = 0
    for attempt in range(MAX_WRITE_ATTEMPTS):
        try:
            response = dynamodb.batch_write_item(RequestItems={table_name: pending})
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in THROTTLING_ERRORS:
                raise
            retries += 1 + err.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            sleep(_backoff(attempt))
            continue
        retries += response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        pending = response.get("UnprocessedItems", {}).get(table_name, [])
        if not pending:
            return retries
        retries += 1
        sleep(_backoff(attempt))
    raise RuntimeError(
        f"DynamoDB table {table_name} still throttles after {MAX_WRITE_ATTEMPTS} attempts "
        f"({len(pending)} items unwritten)"
    )


def _chunks(rows: Iterable[Any], serializer: TypeSerializer) -> Iterator[list[dict[str, Any]]]:
    """Rows as typed DynamoDB items, 25 at a time (one BatchWriteItem each)."""
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append({k: serializer.serialize(dynamo_value(v)) for k, v in row.asDict().items() if v is not None})
        if len(chunk) == DYNAMODB_BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_items(rows: Iterable[Any], table_name: str, fence: Fence) -> Iterator[tuple[int, int]]:
    """Executor side: upsert one partition in batches of 25, once ``fence`` holds; yields (written, retries).

    WRITE_THREADS requests are in flight at once (a bounded window, so the partition is never held
    twice in memory): one BatchWriteItem at a time leaves the task waiting on the network most of
    the time while this task's items are serialized on the same core.
    """
    dynamodb = client("dynamodb", WRITE_CONFIG)
    fence.confirm(client("dynamodb"), "before writing items")
    written = retries = 0
    in_flight: set[Future[int]] = set()
    with ThreadPoolExecutor(WRITE_THREADS) as pool:
        for chunk in _chunks(rows, TypeSerializer()):
            if len(in_flight) >= 2 * WRITE_THREADS:
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                retries += sum(future.result() for future in done)
            in_flight.add(pool.submit(batch_write, dynamodb, table_name, chunk))
            written += len(chunk)
        retries += sum(future.result() for future in in_flight)
    yield written, retries
