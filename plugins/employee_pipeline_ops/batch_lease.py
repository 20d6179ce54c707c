"""A per-batch lease in DynamoDB: one DAG run writes a batch at a time.

The lease is one item ``{batch_id, owner, acquired_at, expires_at}``, taken with a
conditional write and released by its owner. A run that crashed cannot hold it
forever: it expires, and a holder whose DAG run has ended is taken over at once.

``client`` is a DynamoDB resource's client (``DynamoDBHook.client``, ``resource.meta.client``),
which takes and returns plain Python values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

LEASE_KEY = "batch_id"


@dataclass(frozen=True)
class Lease:
    batch_id: str
    owner: str
    acquired_at: int
    expires_at: int


def _conditional_failed(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def acquire(
    client: Any,
    table: str,
    batch_id: str,
    owner: str,
    *,
    now: int,
    seconds: int,
    take_over_from: str | None = None,
) -> Lease | None:
    """Take (or renew) the lease; None while another live owner holds it.

    Free means: no lease, an expired one, one this owner holds already, or one held by
    ``take_over_from`` (a holder whose DAG run is known to have ended).
    """
    condition = "attribute_not_exists(#k) OR #o = :me OR expires_at < :now"
    values: dict[str, Any] = {":me": owner, ":now": now}
    if take_over_from is not None:
        condition += " OR #o = :ended"
        values[":ended"] = take_over_from
    lease = Lease(batch_id, owner, now, now + seconds)
    try:
        client.put_item(
            TableName=table,
            Item={
                LEASE_KEY: batch_id,
                "owner": owner,
                "acquired_at": lease.acquired_at,
                "expires_at": lease.expires_at,
            },
            ConditionExpression=condition,
            ExpressionAttributeNames={"#k": LEASE_KEY, "#o": "owner"},
            ExpressionAttributeValues=values,
        )
    except ClientError as err:
        if _conditional_failed(err):
            return None
        raise
    return lease


def holder(client: Any, table: str, batch_id: str) -> Lease | None:
    """The current lease on ``batch_id``, expired or not; None when there is none."""
    item = client.get_item(TableName=table, Key={LEASE_KEY: batch_id}, ConsistentRead=True).get("Item")
    if item is None:
        return None
    return Lease(batch_id, item["owner"], int(item["acquired_at"]), int(item["expires_at"]))


def release(client: Any, table: str, batch_id: str, owner: str) -> bool:
    """Drop the lease if ``owner`` holds it; False when it does not (expired and taken, or never held)."""
    try:
        client.delete_item(
            TableName=table,
            Key={LEASE_KEY: batch_id},
            ConditionExpression="#o = :me",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":me": owner},
        )
    except ClientError as err:
        if _conditional_failed(err):
            return False
        raise
    return True


def owner_id(dag_id: str, run_id: str) -> str:
    """The lease owner of a DAG run."""
    return f"{dag_id}/{run_id}"


def split_owner(owner: str) -> tuple[str, str] | None:
    dag_id, sep, run_id = owner.partition("/")
    return (dag_id, run_id) if sep and dag_id and run_id else None
