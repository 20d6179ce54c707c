"""boto3 clients as the job makes them, on the driver and in Spark tasks alike."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Adaptive retries back off on DynamoDB throttling instead of failing the task.
BOTO_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10})
# The writer's items were checked row by row against DynamoDB's limits (rules.item_problem): botocore's
# own validation of every 25-item request would only repeat that, at a CPU cost per attribute.
WRITE_CONFIG = BOTO_CONFIG.merge(Config(parameter_validation=False))


def client(service: str, config: Config = BOTO_CONFIG) -> Any:
    return boto3.client(service, config=config)


def describe_table(dynamodb: Any, table: str) -> None:
    """DescribeTable, whose errors name the table (DynamoDB's say only "Requested resource not found")."""
    try:
        dynamodb.describe_table(TableName=table)
    except ClientError as err:
        error = err.response.get("Error", {})
        response = {**err.response, "Error": {**error, "Message": f"DynamoDB table {table}: {error.get('Message')}"}}
        raise type(err)(response, err.operation_name) from None
