"""A GSI deletion on the local AWS takes time, as on AWS, and provisioning waits for it.

botocore retries LimitExceededException (a throttling code to it) for a few seconds: enough to
outlast the emulator's short deletion, never AWS's (minutes). So the refusal is observed with
retries off, and provisioning is held to asking once: no refused UpdateTable on the way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from employee_pipeline.config import GSI_NAME
from infra import table as infra_table
from local_aws import dynamodb_gsi, stats

pytestmark = pytest.mark.integration

# The emulator runs with the default delay (the test session does not set LOCAL_AWS_GSI_DELETE_SECONDS).
SETTLE_S = dynamodb_gsi.delete_seconds() + 10


def _statuses(ddb: Any, table: str) -> dict[str, str]:
    indexes = ddb.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])
    return {i["IndexName"]: i["IndexStatus"] for i in indexes}


@pytest.fixture
def drifted_table(aws) -> Iterator[str]:
    """A table whose batch index projects only the keys (not what infra wants), deleted afterwards."""
    ddb, name = aws.client("dynamodb"), f"gsi-test-{time.monotonic_ns()}"
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=infra_table.ATTRIBUTES,
        KeySchema=[{"AttributeName": "emp_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[{**infra_table.GSI, "Projection": {"ProjectionType": "KEYS_ONLY"}}],
    )
    yield name
    ddb.delete_table(TableName=name)


def test_a_deleted_index_stays_deleting_and_its_name_is_refused_until_it_is_gone(aws, drifted_table: str) -> None:
    ddb = aws.session.client(
        "dynamodb", endpoint_url=aws.endpoint_url, config=Config(retries={"mode": "standard", "total_max_attempts": 1})
    )
    started = time.monotonic()
    ddb.update_table(TableName=drifted_table, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": GSI_NAME}}])
    assert _statuses(ddb, drifted_table) == {GSI_NAME: "DELETING"}
    with pytest.raises(ClientError) as refused:
        ddb.update_table(
            TableName=drifted_table,
            AttributeDefinitions=infra_table.ATTRIBUTES,
            GlobalSecondaryIndexUpdates=[{"Create": infra_table.GSI}],
        )
    assert refused.value.response["Error"]["Code"] == "LimitExceededException"
    assert refused.value.response["Error"]["Message"] == dynamodb_gsi.ONE_AT_A_TIME
    seen = []
    while statuses := _statuses(ddb, drifted_table):
        seen.append(statuses[GSI_NAME])
        assert time.monotonic() - started < SETTLE_S, f"{GSI_NAME} still {statuses} after {SETTLE_S}s"
        time.sleep(0.2)
    assert set(seen) == {"DELETING"}
    ddb.update_table(
        TableName=drifted_table,
        AttributeDefinitions=infra_table.ATTRIBUTES,
        GlobalSecondaryIndexUpdates=[{"Create": infra_table.GSI}],
    )
    assert _statuses(ddb, drifted_table) == {GSI_NAME: "ACTIVE"}


def test_deploy_rebuilds_a_drifted_index_once_the_old_one_is_gone(
    aws, local_aws: str, drifted_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tags = {"project": "gsi-test", "stage": "it"}
    assert "gsi" in infra_table.ensure_table(aws, drifted_table, tags, apply=False).changes
    before = stats.request_counts(local_aws)["dynamodb"].get("UpdateTable", 0)
    action = infra_table.ensure_table(aws, drifted_table, tags)
    # The Delete, then the Create once the old index is gone: no Create refused (and retried) on the way.
    assert stats.request_counts(local_aws)["dynamodb"]["UpdateTable"] - before == 2
    assert action.action == "updated" and "gsi" in action.changes
    (index,) = aws.client("dynamodb").describe_table(TableName=drifted_table)["Table"]["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["IndexStatus"]) == (GSI_NAME, "ACTIVE")
    assert index["Projection"] == infra_table.GSI["Projection"]
    progress = capsys.readouterr().err
    assert f"waiting for index {GSI_NAME} to be gone (DELETING" in progress
    assert f"index {GSI_NAME} gone after" in progress
    assert infra_table.ensure_table(aws, drifted_table, tags).action == "unchanged"
