"""This load's claim on its batch: the DAG run that started it holds the batch's lease, and the lease
records this load. Confirmed before every step that changes the batch, in the executors too."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from employee_pipeline.config import LEASE_KEY


class LeaseLostError(RuntimeError):
    """The DAG run that started this load does not hold the batch's lease for it (any more)."""


class Fence:
    """This load's claim on the batch. Picklable (plain fields), so executors confirm it before they write."""

    def __init__(self, lease_table: str, batch_id: str, owner: str, load_id: str) -> None:
        self.lease_table, self.batch_id, self.owner, self.load_id = lease_table, batch_id, owner, load_id

    def _update(self, client: Any, step: str, expression: str, condition: str, values: dict[str, Any]) -> Any:
        try:
            return client.update_item(
                TableName=self.lease_table,
                Key={LEASE_KEY: {"S": self.batch_id}},
                UpdateExpression=expression,
                ConditionExpression=f"#o = :owner AND expires_at > :now AND {condition}",
                ExpressionAttributeNames={"#o": "owner", "#l": "loading"},
                ExpressionAttributeValues={
                    ":owner": {"S": self.owner},
                    ":now": {"N": str(int(time.time()))},
                    ":load": {"S": self.load_id},
                    **values,
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        held = client.get_item(TableName=self.lease_table, Key={LEASE_KEY: {"S": self.batch_id}}, ConsistentRead=True)
        item = held.get("Item", {})
        holder = item.get("owner", {}).get("S", "nobody")
        loading = item.get("loading", {}).get("S", "none")
        raise LeaseLostError(
            f"batch {self.batch_id} is not leased to DAG run {self.owner!r} for load {self.load_id} but to "
            f"{holder!r} for load {loading} (table {self.lease_table}); stopped {step}, so two loads never "
            "write the batch at once"
        )

    def begin(self, client: Any, shards: int) -> frozenset[int]:
        """Record this load on the lease and add its shard count to the batch's record of loads.

        Refused when the run's lease records another load (a second load of the same run). Returns
        the shard counts of the batch's earlier loads: empty for its first load.
        """
        old = self._update(
            client,
            "before reading",
            "SET #l = :load ADD shard_counts :shards",
            "(attribute_not_exists(#l) OR #l = :load)",
            {":shards": {"NS": [str(shards)]}},
        ).get("Attributes", {})
        return frozenset(int(n) for n in old.get("shard_counts", {}).get("NS", []))

    def confirm(self, client: Any, step: str) -> None:
        """Fail unless the run still holds the lease for this load."""
        self._update(client, step, "SET #l = :load", "#l = :load", {})
