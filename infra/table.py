"""The DynamoDB tables: the employees (on-demand, point-in-time recovery, the batch_id#shard GSI)
and the batch leases (one item per batch while a run holds it)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import WaiterError

from employee_pipeline.config import GSI_KEY, GSI_NAME, LEASE_KEY, LOAD_ATTRIBUTE, TABLE_KEY
from infra import tagging
from infra.actions import ABSENT, DELETED, Action, Kind, outcome
from infra.session import AwsTarget, if_exists

GSI = {
    "IndexName": GSI_NAME,
    "KeySchema": [{"AttributeName": GSI_KEY, "KeyType": "HASH"}, {"AttributeName": TABLE_KEY, "KeyType": "RANGE"}],
    # The count check and the stale-item sweep need only the keys and the load that wrote the item.
    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": [LOAD_ATTRIBUTE]},
}
ATTRIBUTES = [
    {"AttributeName": TABLE_KEY, "AttributeType": "S"},
    {"AttributeName": GSI_KEY, "AttributeType": "S"},
]


# An index deletion or build runs in the background on AWS: minutes, longer on a large table.
INDEX_GONE, INDEX_ACTIVE = "gone", "ACTIVE"
INDEX_WAIT_SECONDS = 3600.0
INDEX_POLL_SECONDS = 2.0
PROGRESS_EVERY_SECONDS = 30.0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def index_state(description: dict[str, Any], index: str, until: str) -> tuple[bool, str]:
    """(whether ``index`` of the table ``description`` (DescribeTable's ``Table``) is ``until``, its state now).

    ``INDEX_GONE``: no longer listed; ``INDEX_ACTIVE``: listed and ACTIVE; either with the table ACTIVE.
    """
    found = next((i for i in description.get("GlobalSecondaryIndexes", []) if i["IndexName"] == index), None)
    state = "absent" if found is None else str(found.get("IndexStatus", "unknown"))
    table_status = description.get("TableStatus", "unknown")
    reached = (found is None) if until == INDEX_GONE else state == INDEX_ACTIVE
    if table_status != "ACTIVE":
        return False, f"{state}, table {table_status}"
    return reached, state


def wait_for_index(
    describe: Callable[[], dict[str, Any]],
    table: str,
    index: str,
    until: str,
    *,
    timeout: float = INDEX_WAIT_SECONDS,
    poll: float = INDEX_POLL_SECONDS,
    say: Callable[[str], None] = _progress,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll ``describe`` (DescribeTable's ``Table``) until ``index`` is ``until``; say each new state (and
    every ``PROGRESS_EVERY_SECONDS``); WaiterError after ``timeout`` seconds."""
    started = said_at = clock()
    said = None
    while True:
        description = describe()
        reached, state = index_state(description, index, until)
        elapsed = clock() - started
        if reached:
            if said is not None:
                say(f"dynamodb_table {table}: index {index} {until} after {elapsed:.0f}s")
            return
        if elapsed >= timeout:
            raise WaiterError(
                name=f"index_{until.lower()}",
                reason=f"index {index} of table {table} still {state} after {timeout:.0f}s",
                last_response={"Table": description},
            )
        if state != said or clock() - said_at >= PROGRESS_EVERY_SECONDS:
            say(f"dynamodb_table {table}: waiting for index {index} to be {until} ({state}, {elapsed:.0f}s)")
            said, said_at = state, clock()
        sleep(poll)


def _wait_for_index(dynamodb: Any, table: str, index: str, until: str) -> None:
    wait_for_index(lambda: dynamodb.describe_table(TableName=table)["Table"], table, index, until)


def _wait_active(dynamodb: Any, table: str) -> None:
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 90})


def _describe(dynamodb: Any, table: str) -> dict[str, Any] | None:
    return if_exists(lambda: dynamodb.describe_table(TableName=table), ("ResourceNotFoundException",))


def table_exists(target: AwsTarget, table: str) -> bool:
    return _describe(target.client("dynamodb"), table) is not None


def _create(
    dynamodb: Any, table: str, key: str, attributes: list[dict[str, str]], tags: dict[str, str], **extra: Any
) -> None:
    """An on-demand table keyed by ``key``, tagged; returns once it is ACTIVE."""
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=attributes,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=tagging.as_list(tags),
        **extra,
    )
    _wait_active(dynamodb, table)


def _converge_tags(dynamodb: Any, arn: str, tags: dict[str, str], apply: bool) -> list[str]:
    have: dict[str, str] = {}
    for page in dynamodb.get_paginator("list_tags_of_resource").paginate(ResourceArn=arn):
        have.update(tagging.from_list(page.get("Tags", [])))
    lacking = tagging.missing(have, tags)
    if not lacking:
        return []
    if apply:
        dynamodb.tag_resource(ResourceArn=arn, Tags=tagging.as_list(lacking))
    return [tagging.CHANGE]


def ensure_table(target: AwsTarget, table: str, tags: dict[str, str], *, apply: bool = True) -> Action:
    """Create or converge the employees table; ``apply=False``: only say what would change."""
    dynamodb = target.client("dynamodb")
    current = _describe(dynamodb, table)
    changes = []
    if current is None and not apply:
        return outcome(Kind.DYNAMODB_TABLE, table, False, [])
    if current is None:
        _create(dynamodb, table, TABLE_KEY, ATTRIBUTES, tags, GlobalSecondaryIndexes=[GSI])
    else:
        description = current["Table"]
        changes += _converge_tags(dynamodb, description["TableArn"], tags, apply)
        if description.get("BillingModeSummary", {}).get("BillingMode") != "PAY_PER_REQUEST":
            if apply:
                dynamodb.update_table(TableName=table, BillingMode="PAY_PER_REQUEST")
                _wait_active(dynamodb, table)
            changes.append("on-demand billing")
        indexes = {i["IndexName"]: i for i in description.get("GlobalSecondaryIndexes", [])}
        gsi = indexes.get(GSI_NAME)
        deleting = gsi is not None and gsi.get("IndexStatus") == "DELETING"  # an earlier rebuild stopped midway
        if gsi is not None and (deleting or _projection(gsi) != _projection(GSI)):
            # A GSI's projection cannot change in place: rebuild it (the count check fails meanwhile).
            # AWS deletes in the background and refuses a new index under the name until the old one is gone.
            if apply:
                if not deleting:
                    dynamodb.update_table(
                        TableName=table, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": GSI_NAME}}]
                    )
                _wait_for_index(dynamodb, table, GSI_NAME, INDEX_GONE)
            del indexes[GSI_NAME]
        if GSI_NAME not in indexes:
            if apply:
                dynamodb.update_table(
                    TableName=table, AttributeDefinitions=ATTRIBUTES, GlobalSecondaryIndexUpdates=[{"Create": GSI}]
                )
                # The table stays ACTIVE while the index builds; the count check needs it ACTIVE.
                _wait_for_index(dynamodb, table, GSI_NAME, INDEX_ACTIVE)
            changes.append("gsi")
        elif apply and indexes[GSI_NAME].get("IndexStatus") != INDEX_ACTIVE:  # still building (an earlier deploy)
            _wait_for_index(dynamodb, table, GSI_NAME, INDEX_ACTIVE)
    backups = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    if pitr != "ENABLED":
        if apply:
            dynamodb.update_continuous_backups(
                TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        if current is not None:
            changes.append("point-in-time recovery")
    return outcome(Kind.DYNAMODB_TABLE, table, current is not None, changes)


def _projection(index: dict[str, Any]) -> tuple[str, list[str]]:
    projection = index.get("Projection", {})
    return projection.get("ProjectionType", ""), sorted(projection.get("NonKeyAttributes", []))


def ensure_lease_table(target: AwsTarget, table: str, tags: dict[str, str], *, apply: bool = True) -> Action:
    """One item per batch: its holder while a DAG run holds it, and the batch's record of loads for good.

    No TTL: an expired holder is replaced by the next claim, and expiring the item would lose the record
    the sweep relies on. A TTL an earlier version enabled on ``expires_at`` is turned off.
    ``apply=False``: only say what would change."""
    dynamodb = target.client("dynamodb")
    current = _describe(dynamodb, table)
    changes = []
    if current is None and not apply:
        return outcome(Kind.DYNAMODB_TABLE, table, False, [])
    if current is None:
        _create(dynamodb, table, LEASE_KEY, [{"AttributeName": LEASE_KEY, "AttributeType": "S"}], tags)
    else:
        changes += _converge_tags(dynamodb, current["Table"]["TableArn"], tags, apply)
        ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            if apply:
                dynamodb.update_time_to_live(
                    TableName=table,
                    TimeToLiveSpecification={"Enabled": False, "AttributeName": ttl["AttributeName"]},
                )
            changes.append("ttl off")
    return outcome(Kind.DYNAMODB_TABLE, table, current is not None, changes)


def destroy_table(target: AwsTarget, table: str) -> Action:
    dynamodb = target.client("dynamodb")
    if _describe(dynamodb, table) is None:
        return Action(Kind.DYNAMODB_TABLE, table, ABSENT)
    dynamodb.delete_table(TableName=table)
    dynamodb.get_waiter("table_not_exists").wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 90})
    return Action(Kind.DYNAMODB_TABLE, table, DELETED)
