"""DynamoDBBatchCountCheckOperator: fail unless DynamoDB holds exactly the batch one load wrote."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.dynamodb import DynamoDBHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from employee_pipeline.config import GSI_KEY, LOAD_ATTRIBUTE
from employee_pipeline_ops import batch_lease, lineage
from employee_pipeline_ops.batch_count import ShardCount, count_shards
from employee_pipeline_ops.links import DynamoDBTableLink, persist_link

if TYPE_CHECKING:
    from airflow.sdk import Context

# Shards named in a failure message; the rest are counted.
REPORTED_SHARDS = 10


class BatchCountMismatchError(Exception):
    """DynamoDB does not hold exactly the items the batch's load wrote."""


class BatchNotHeldError(Exception):
    """The batch changed hands, or got another load, while it was counted: the count proves nothing."""


def shard_mismatches(expected: dict[int, int], counts: dict[int, ShardCount]) -> list[str]:
    """One line per shard whose items are not exactly the load's expected count (pure; unit-tested)."""
    problems = []
    for shard, count in sorted(counts.items()):
        want = expected.get(shard, 0)
        if count.total == want and count.of_load == want:
            continue
        foreign = count.total - count.of_load
        detail = f" ({foreign} not written by this load)" if foreign else ""
        problems.append(f"shard {shard}: expected {want}, found {count.total}{detail}")
    return problems


class DynamoDBBatchCountCheckOperator(AwsBaseOperator[DynamoDBHook]):
    """
    Check that DynamoDB holds exactly the batch's load: per shard, the expected count, all written by it.

    Every shard a batch can have (``0..shard_limit-1``) is counted with ``Query(Select=COUNT)``
    on a GSI whose partition key is ``batch_id#shard``, filtered on the load id: ``ScannedCount``
    is every item of the shard, ``Count`` those this load wrote. A shard fails when either differs
    from its expected count (0 for shards the load did not have), so a stale item fails the check
    even where a missing one would balance the total. GSIs are eventually consistent, so a
    mismatch is re-counted a few times before failing.

    With ``lease_table``, the lease is read again after a count that matched: the check fails unless
    this DAG run still holds the batch for this load, so no other load can have written meanwhile.

    With the OpenLineage provider, the task reports the table as its input (the lease table is
    bookkeeping, not data).

    :param table_name: DynamoDB table holding the records. (templated)
    :param index_name: GSI keyed by ``batch_id#shard``. (templated)
    :param batch_id: Batch to count, ``YYYYMMDDTHH``. (templated)
    :param expected_per_shard: Valid rows per shard of the load, ``{"0": n0, "1": n1, ...}`` (the
        manifest's ``per_shard``). (templated)
    :param load_id: The load whose items the batch must consist of (the manifest's ``load_id``). (templated)
    :param shard_limit: Shards a batch can have; every one is counted.
    :param key_name: Attribute name of the GSI partition key (default ``config.GSI_KEY``).
    :param load_attribute: Attribute holding the id of the load that wrote an item (default
        ``config.LOAD_ATTRIBUTE``).
    :param lease_table: DynamoDB table of the batch leases; None skips the lease check. (templated)
    :param lease_owner: The owner this DAG run holds the lease as. (templated)
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
        "table_name", "index_name", "batch_id", "expected_per_shard", "load_id", "lease_table", "lease_owner"
    )
    ui_color = "#4b8bbe"
    operator_extra_links = (DynamoDBTableLink(),)

    def __init__(
        self,
        *,
        table_name: str,
        index_name: str,
        batch_id: str,
        expected_per_shard: dict[str, int] | str,
        load_id: str,
        shard_limit: int,
        key_name: str = GSI_KEY,
        load_attribute: str = LOAD_ATTRIBUTE,
        lease_table: str | None = None,
        lease_owner: str | None = None,
        consistency_checks: int = 5,
        consistency_delay: float = 2.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table_name = table_name
        self.index_name = index_name
        self.batch_id = batch_id
        self.expected_per_shard = expected_per_shard
        self.load_id = load_id
        self.shard_limit = shard_limit
        self.key_name = key_name
        self.load_attribute = load_attribute
        self.lease_table = lease_table
        self.lease_owner = lease_owner
        self.consistency_checks = consistency_checks
        self.consistency_delay = consistency_delay

    def _expected(self) -> dict[int, int]:
        if not isinstance(self.expected_per_shard, dict) or not self.expected_per_shard:
            raise ValueError(f"expected_per_shard must be a non-empty mapping, got {self.expected_per_shard!r}")
        expected = {int(shard): int(count) for shard, count in self.expected_per_shard.items()}
        outside = sorted(s for s in expected if not 0 <= s < self.shard_limit)
        if outside:
            raise ValueError(f"expected_per_shard names shards outside 0..{self.shard_limit - 1}: {outside}")
        return expected

    def _check_still_held(self, client: Any) -> None:
        if not self.lease_table:
            return
        lease = batch_lease.read(client, self.lease_table, self.batch_id)
        if not batch_lease.holds(lease, str(self.lease_owner), now=int(time.time()), load_id=self.load_id):
            raise BatchNotHeldError(
                f"batch {self.batch_id} is no longer held by {self.lease_owner} for load {self.load_id} "
                f"(lease: owner {lease.owner or 'nobody'}, load {lease.loading or 'none'}): another run may "
                "have written it while it was counted"
            )

    def get_openlineage_facets_on_start(self) -> Any:
        """OpenLineage: the table counted, named by its ARN (region and account of the connection)."""
        table = lineage.dynamodb_table(self.hook.conn_region_name, self.hook.account_id, self.table_name)
        return lineage.operator_lineage(inputs=[table])

    def execute(self, context: Context) -> int:
        persist_link(DynamoDBTableLink, context, self, table_name=self.table_name)
        expected = self._expected()
        total_expected = sum(expected.values())
        self.log.info(
            "Counting batch %s (load %s) in %s via index %s: %d shards of %d possible, %d items expected",
            self.batch_id,
            self.load_id,
            self.table_name,
            self.index_name,
            len(expected),
            self.shard_limit,
            total_expected,
        )
        client = self.hook.client
        for attempt in range(1, self.consistency_checks + 1):
            counts = count_shards(
                client,
                range(self.shard_limit),
                table_name=self.table_name,
                index_name=self.index_name,
                key_name=self.key_name,
                batch_id=self.batch_id,
                load_attribute=self.load_attribute,
                load_id=self.load_id,
            )
            problems = shard_mismatches(expected, counts)
            found = sum(count.total for count in counts.values())
            self.log.info(
                "Count %d of %d: %d items in the batch, %d expected; per shard: %s",
                attempt,
                self.consistency_checks,
                found,
                total_expected,
                {shard: counts[shard].total for shard in sorted(expected)},
            )
            if not problems:
                self._check_still_held(client)
                self.log.info("Batch %s holds exactly the %d items load %s wrote", self.batch_id, found, self.load_id)
                return found
            if attempt < self.consistency_checks:
                time.sleep(self.consistency_delay)
        more = len(problems) - REPORTED_SHARDS
        raise BatchCountMismatchError(
            f"DynamoDB table {self.table_name} does not hold exactly batch {self.batch_id} as load {self.load_id} "
            f"wrote it: {'; '.join(problems[:REPORTED_SHARDS])}" + (f"; and {more} more shards" if more > 0 else "")
        )
