"""A per-batch lease in DynamoDB: one DAG run writes a batch at a time, and what it started is fenced.

The lease is one item per batch, kept for good (only its holder comes and goes):

* ``owner``, ``acquired_at``, ``expires_at``: the holder, ``{dag_id}/{run_id}@{deployment}``. The
  deployment (the Airflow the run belongs to) makes owners unique across Airflows writing one stage.
* ``loading``: the Glue job run of the holder's current load, recorded before it writes anything.
  Before the lease changes hands (taken over or released) that run is stopped and waited for.
* ``shard_counts``: the shard count of every load the batch ever had, so a load knows exactly which
  shards earlier loads can have written (and a first load knows there are none).

``client`` is a DynamoDB resource's client (``DynamoDBHook.client``, ``resource.meta.client``),
which takes and returns plain Python values.

The triggerer imports this module (through ``glue_job``'s trigger) with only the plugins folder on
``sys.path``, so it imports nothing of the DAG's package at module level: the lease's key comes from
``config`` when a task, whose DAG file put the dags folder there, reads or updates the lease.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class Owner:
    """A DAG run of one Airflow deployment."""

    dag_id: str
    run_id: str
    deployment: str

    def __str__(self) -> str:
        return f"{self.dag_id}/{self.run_id}@{self.deployment}"


def owner_id(dag_id: str, run_id: str, deployment: str) -> str:
    """The lease owner of a DAG run of ``deployment``."""
    return str(Owner(dag_id, run_id, deployment))


def parse_owner(owner: str) -> Owner | None:
    """The DAG run behind an owner string; None for one this version did not write."""
    run, at, deployment = owner.rpartition("@")
    dag_id, sep, run_id = run.partition("/")
    return Owner(dag_id, run_id, deployment) if at and sep and dag_id and run_id and deployment else None


@dataclass(frozen=True)
class Lease:
    batch_id: str
    owner: str | None  # None: free
    acquired_at: int = 0
    expires_at: int = 0
    loading: str | None = None
    shard_counts: frozenset[int] = frozenset()


def _key(batch_id: str) -> dict[str, str]:
    """The lease item's key (``config.LEASE_KEY``); called in tasks only (see the module's docstring)."""
    from employee_pipeline.config import LEASE_KEY

    return {LEASE_KEY: batch_id}


def _conditional_failed(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def read(client: Any, table: str, batch_id: str) -> Lease:
    """The batch's lease record as it is now (free when the batch never had one)."""
    item = client.get_item(TableName=table, Key=_key(batch_id), ConsistentRead=True).get("Item") or {}
    return Lease(
        batch_id,
        item.get("owner"),
        int(item.get("acquired_at", 0)),
        int(item.get("expires_at", 0)),
        item.get("loading"),
        frozenset(int(n) for n in item.get("shard_counts", ())),
    )


def _update_if_unchanged(client: Any, table: str, seen: Lease, expression: str, values: dict[str, Any]) -> bool:
    """Apply ``expression`` while the holder and its load are still what ``seen`` says; False if they changed."""
    names = {"#o": "owner", "#l": "loading"}
    values = dict(values)
    condition = []
    for placeholder, value in (("#o", seen.owner), ("#l", seen.loading)):
        if value is None:
            condition.append(f"attribute_not_exists({placeholder})")
        else:
            values[f":seen{placeholder[1:]}"] = value
            condition.append(f"{placeholder} = :seen{placeholder[1:]}")
    try:
        client.update_item(
            TableName=table,
            Key=_key(seen.batch_id),
            UpdateExpression=expression,
            ConditionExpression=" AND ".join(condition),
            ExpressionAttributeNames=names,
            **({"ExpressionAttributeValues": values} if values else {}),
        )
    except ClientError as err:
        if _conditional_failed(err):
            return False
        raise
    return True


def take(client: Any, table: str, seen: Lease, owner: str, *, now: int, seconds: int) -> Lease | None:
    """Make ``owner`` the holder, if the lease is still exactly ``seen``; None when it changed meanwhile.

    The caller decided that ``seen``'s holder may be replaced and that its load has ended; the
    condition makes sure nobody took the lease or started a load since.
    """
    expression = "SET #o = :me, acquired_at = :at, expires_at = :until REMOVE #l"
    if not _update_if_unchanged(client, table, seen, expression, {":me": owner, ":at": now, ":until": now + seconds}):
        return None
    return Lease(seen.batch_id, owner, now, now + seconds, None, seen.shard_counts)


def release(client: Any, table: str, seen: Lease) -> bool:
    """Free the lease ``seen`` (its load has ended), keeping the batch's record of loads.

    False when the lease changed since it was read (another holder, or a new load).
    """
    return _update_if_unchanged(client, table, seen, "REMOVE #o, acquired_at, expires_at, #l", {})


def record_load(client: Any, table: str, seen: Lease, load_id: str | None) -> bool:
    """Record ``load_id`` as the holder's load (None: clear an ended one), if the lease is still ``seen``."""
    if load_id is None:
        return _update_if_unchanged(client, table, seen, "REMOVE #l", {})
    return _update_if_unchanged(client, table, seen, "SET #l = :load", {":load": load_id})


def holds(lease: Lease, owner: str, *, now: int, load_id: str | None = None) -> bool:
    """Whether ``owner`` holds the lease now (and, with ``load_id``, for that load)."""
    return lease.owner == owner and lease.expires_at > now and (load_id is None or lease.loading == load_id)
