"""DynamoDBBatchCountCheckOperator: fail unless DynamoDB holds exactly the batch."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.dynamodb import DynamoDBHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from employee_pipeline_ops.batch_count import count_batch

if TYPE_CHECKING:
    from airflow.sdk import Context


class BatchCountMismatchError(Exception):
    """DynamoDB does not hold the number of items the batch should have loaded."""


class DynamoDBBatchCountCheckOperator(AwsBaseOperator[DynamoDBHook]):
    """
    Count one batch's items in DynamoDB and compare with the expected count.

    The count is ``Query(Select=COUNT)`` on a GSI whose partition key is
    ``batch_id#shard``, one paginated query per shard. GSIs are eventually
    consistent, so a short count is re-checked a few times before failing.

    :param table_name: DynamoDB table holding the records. (templated)
    :param index_name: GSI keyed by ``batch_id#shard``. (templated)
    :param batch_id: Batch to count, ``YYYYMMDDTHH``. (templated)
    :param shards: Number of shards of the batch, counted ``0..shards-1``. (templated)
    :param expected_count: Items the batch must hold: generated minus quarantined. (templated)
    :param key_name: Attribute name of the GSI partition key.
    :param consistency_checks: Counts taken before a mismatch fails the task.
    :param consistency_delay: Seconds between two counts.
    :param aws_conn_id: The Airflow connection used for AWS credentials.
        If this is ``None`` or empty then the default boto3 behaviour is used.
    :param region_name: AWS region name. If not specified, the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    """

    aws_hook_class = DynamoDBHook
    template_fields: Sequence[str] = aws_template_fields(
        "table_name", "index_name", "batch_id", "shards", "expected_count"
    )
    ui_color = "#4b8bbe"

    def __init__(
        self,
        *,
        table_name: str,
        index_name: str,
        batch_id: str,
        shards: int | str,
        expected_count: int | str,
        key_name: str = "batch_shard",
        consistency_checks: int = 5,
        consistency_delay: float = 2.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table_name = table_name
        self.index_name = index_name
        self.batch_id = batch_id
        self.shards = shards
        self.expected_count = expected_count
        self.key_name = key_name
        self.consistency_checks = consistency_checks
        self.consistency_delay = consistency_delay

    def execute(self, context: Context) -> int:
        shards, expected = int(self.shards), int(self.expected_count)
        self.log.info("Counting batch %s in %s via index %s", self.batch_id, self.table_name, self.index_name)
        for attempt in range(1, self.consistency_checks + 1):
            per_shard = count_batch(
                self.hook.conn.Table(self.table_name),
                index_name=self.index_name,
                key_name=self.key_name,
                batch_id=self.batch_id,
                shards=shards,
            )
            actual = sum(per_shard.values())
            self.log.info(
                "Count %d of %d: %d items (per shard: %s), expected %d",
                attempt,
                self.consistency_checks,
                actual,
                per_shard,
                expected,
            )
            if actual == expected:
                self.log.info("Batch %s holds exactly the expected %d items", self.batch_id, expected)
                return actual
            if attempt < self.consistency_checks:
                time.sleep(self.consistency_delay)
        raise BatchCountMismatchError(
            f"DynamoDB table {self.table_name} holds {actual} items for batch {self.batch_id} "
            f"(per shard: {per_shard}) but {expected} were expected"
        )
