"""The DynamoDB table: on-demand, point-in-time recovery, the batch_id#shard GSI."""

from __future__ import annotations

from typing import Any

from employee_pipeline.config import GSI_KEY, GSI_NAME, TABLE_KEY
from infra.actions import ABSENT, DELETED, Action, outcome
from infra.session import AwsTarget, if_exists

GSI = {
    "IndexName": GSI_NAME,
    "KeySchema": [{"AttributeName": GSI_KEY, "KeyType": "HASH"}, {"AttributeName": TABLE_KEY, "KeyType": "RANGE"}],
    # Counting needs no attributes: keys only keeps the index small.
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}
ATTRIBUTES = [
    {"AttributeName": TABLE_KEY, "AttributeType": "S"},
    {"AttributeName": GSI_KEY, "AttributeType": "S"},
]


def _wait_active(dynamodb: Any, table: str) -> None:
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 90})


def ensure_table(target: AwsTarget, table: str) -> Action:
    dynamodb = target.client("dynamodb")
    current = if_exists(lambda: dynamodb.describe_table(TableName=table), ("ResourceNotFoundException",))
    changes = []
    if current is None:
        dynamodb.create_table(
            TableName=table,
            AttributeDefinitions=ATTRIBUTES,
            KeySchema=[{"AttributeName": TABLE_KEY, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=[GSI],
            Tags=[{"Key": "pipeline", "Value": "employee-batch"}],
        )
        _wait_active(dynamodb, table)
    else:
        description = current["Table"]
        if description.get("BillingModeSummary", {}).get("BillingMode") != "PAY_PER_REQUEST":
            dynamodb.update_table(TableName=table, BillingMode="PAY_PER_REQUEST")
            _wait_active(dynamodb, table)
            changes.append("on-demand billing")
        if GSI_NAME not in {i["IndexName"] for i in description.get("GlobalSecondaryIndexes", [])}:
            dynamodb.update_table(
                TableName=table, AttributeDefinitions=ATTRIBUTES, GlobalSecondaryIndexUpdates=[{"Create": GSI}]
            )
            _wait_active(dynamodb, table)
            changes.append("gsi")
    backups = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    if pitr != "ENABLED":
        dynamodb.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        if current is not None:
            changes.append("point-in-time recovery")
    return outcome("dynamodb_table", table, current is not None, changes)


def destroy_table(target: AwsTarget, table: str) -> Action:
    dynamodb = target.client("dynamodb")
    if if_exists(lambda: dynamodb.describe_table(TableName=table), ("ResourceNotFoundException",)) is None:
        return Action("dynamodb_table", table, ABSENT)
    dynamodb.delete_table(TableName=table)
    dynamodb.get_waiter("table_not_exists").wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 90})
    return Action("dynamodb_table", table, DELETED)
