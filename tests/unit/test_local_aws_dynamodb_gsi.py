"""The local AWS's GSI lifecycle (local_aws.dynamodb_gsi), through boto3 on moto in-process:
a deleted index stays DELETING for a while, and one index creation or deletion runs at a time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_aws import dynamodb_gsi, patches

TABLE, INDEX, OTHER = "employees", "by_shard", "by_city"
DELETE_SECONDS = 0.6


def _index(name: str, key: str, projection: str = "KEYS_ONLY") -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
        "Projection": {"ProjectionType": projection},
    }


ATTRIBUTES = [
    {"AttributeName": "emp_id", "AttributeType": "S"},
    {"AttributeName": "batch_shard", "AttributeType": "S"},
    {"AttributeName": "city", "AttributeType": "S"},
]


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv(dynamodb_gsi.DELETE_SECONDS_ENV, str(DELETE_SECONDS))
    installed = patches._installed.get("originals", {})
    originals = {name: installed.get(name) or patches._resolve(name) for name in dynamodb_gsi.REPLACED}
    for name, replacement in dynamodb_gsi.replacements(originals).items():
        owner, attribute = patches._owner(name)
        monkeypatch.setattr(owner, attribute, replacement)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "emp_id", "KeyType": "HASH"}],
            AttributeDefinitions=ATTRIBUTES[:2],
            GlobalSecondaryIndexes=[_index(INDEX, "batch_shard")],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _statuses(client: Any) -> dict[str, str]:
    table = client.describe_table(TableName=TABLE)["Table"]
    return {i["IndexName"]: i["IndexStatus"] for i in table.get("GlobalSecondaryIndexes", [])}


def _delete(client: Any, name: str = INDEX) -> dict[str, Any]:
    return client.update_table(TableName=TABLE, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": name}}])


def _create(client: Any, index: dict[str, Any]) -> dict[str, Any]:
    return client.update_table(
        TableName=TABLE, AttributeDefinitions=ATTRIBUTES, GlobalSecondaryIndexUpdates=[{"Create": index}]
    )


def _error(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_a_deleted_index_is_deleting_for_a_while_then_gone(dynamodb: Any) -> None:
    started = time.monotonic()
    answer = _delete(dynamodb)
    assert {i["IndexName"]: i["IndexStatus"] for i in answer["TableDescription"]["GlobalSecondaryIndexes"]} == {
        INDEX: "DELETING"
    }
    (listed,) = dynamodb.describe_table(TableName=TABLE)["Table"]["GlobalSecondaryIndexes"]
    assert listed["IndexStatus"] == "DELETING" and listed["KeySchema"][0]["AttributeName"] == "batch_shard"
    assert dynamodb.describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE"
    with pytest.raises(ClientError):  # "can no longer be used"
        dynamodb.query(
            TableName=TABLE,
            IndexName=INDEX,
            KeyConditionExpression="batch_shard = :s",
            ExpressionAttributeValues={":s": {"S": "b#0"}},
        )
    while _statuses(dynamodb):
        assert time.monotonic() - started < DELETE_SECONDS + 2
        time.sleep(0.05)
    assert time.monotonic() - started >= DELETE_SECONDS


def test_no_index_is_created_or_deleted_while_one_is_deleting(dynamodb: Any) -> None:
    _create(dynamodb, _index(OTHER, "city"))
    _delete(dynamodb)
    for attempt in (lambda: _create(dynamodb, _index(INDEX, "batch_shard", "ALL")), lambda: _delete(dynamodb, OTHER)):
        with pytest.raises(ClientError) as err:
            attempt()
        assert _error(err) == ("LimitExceededException", dynamodb_gsi.ONE_AT_A_TIME)
    dynamodb.update_table(TableName=TABLE, DeletionProtectionEnabled=False)  # no index change: accepted
    assert _statuses(dynamodb) == {OTHER: "ACTIVE", INDEX: "DELETING"}
    time.sleep(DELETE_SECONDS)
    _create(dynamodb, _index(INDEX, "batch_shard", "ALL"))
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert {
        i["IndexName"]: (i["IndexStatus"], i["Projection"]["ProjectionType"]) for i in table["GlobalSecondaryIndexes"]
    } == {
        OTHER: ("ACTIVE", "KEYS_ONLY"),
        INDEX: ("ACTIVE", "ALL"),
    }


@pytest.mark.parametrize(
    "updates",
    [
        [{"Delete": {"IndexName": INDEX}}, {"Create": _index(OTHER, "city")}],
        [{"Create": _index(OTHER, "city")}, {"Create": _index("by_emp", "emp_id")}],
    ],
    ids=["delete-and-create", "two-creates"],
)
def test_one_index_change_per_update(dynamodb: Any, updates: list[dict[str, Any]]) -> None:
    with pytest.raises(ClientError) as err:
        dynamodb.update_table(TableName=TABLE, AttributeDefinitions=ATTRIBUTES, GlobalSecondaryIndexUpdates=updates)
    assert _error(err) == ("LimitExceededException", dynamodb_gsi.ONE_AT_A_TIME)
    assert _statuses(dynamodb) == {INDEX: "ACTIVE"}  # nothing changed


def test_a_missing_index_cannot_be_deleted_nor_an_existing_one_created(dynamodb: Any) -> None:
    with pytest.raises(ClientError) as err:
        _delete(dynamodb, "nonexistent")
    assert _error(err)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        _create(dynamodb, _index(INDEX, "city"))
    assert _error(err)[0] == "ValidationException" and "already exists" in _error(err)[1]


def test_zero_seconds_deletes_at_once(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dynamodb_gsi.DELETE_SECONDS_ENV, "0")
    _delete(dynamodb)
    assert _statuses(dynamodb) == {}


def test_a_bad_delay_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dynamodb_gsi.DELETE_SECONDS_ENV, "soon")
    with pytest.raises(ValueError, match="LOCAL_AWS_GSI_DELETE_SECONDS"):
        dynamodb_gsi.delete_seconds()
