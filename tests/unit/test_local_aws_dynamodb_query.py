"""The local AWS's Query (local_aws.dynamodb_index) answers exactly as moto's own, without visiting the table.

Each Query runs twice on the same data, through boto3 on moto in-process: with the
local AWS's replacement installed, then with moto's own ``Table.query`` restored; every
page (items, Count, ScannedCount, LastEvaluatedKey) must be equal.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_aws import dynamodb_index, patches

EMPLOYEES, BY_SHARD = "employees", "by_shard"
EVENTS, BY_KIND, BY_SCORE, BY_TIME = "events", "by_kind", "by_score", "by_time"
SHARDS = ("b#0", "b#1", "b#2", "b#9")


@pytest.fixture
def originals(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The replacements installed for the test; moto's own functions, by qualified name."""
    installed = patches._installed.get("originals", {})
    originals = {name: installed.get(name) or patches._resolve(name) for name in dynamodb_index.REPLACED}
    for name, replacement in dynamodb_index.replacements(originals).items():
        owner, attribute = patches._owner(name)
        monkeypatch.setattr(owner, attribute, replacement)
    return originals


@pytest.fixture
def dynamodb(originals: dict[str, Any]) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=EMPLOYEES,
            KeySchema=[{"AttributeName": "emp_id", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "emp_id", "AttributeType": "S"},
                {"AttributeName": "batch_shard", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": BY_SHARD,
                    "KeySchema": [
                        {"AttributeName": "batch_shard", "KeyType": "HASH"},
                        {"AttributeName": "emp_id", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["load_id"]},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        client.create_table(
            TableName=EVENTS,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
                {"AttributeName": "kind", "AttributeType": "S"},
                {"AttributeName": "score", "AttributeType": "N"},
                {"AttributeName": "at", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": BY_KIND,
                    "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
                {
                    "IndexName": BY_SCORE,
                    "KeySchema": [
                        {"AttributeName": "score", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
            ],
            LocalSecondaryIndexes=[
                {
                    "IndexName": BY_TIME,
                    "KeySchema": [
                        {"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _pages(client: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of a Query, without ResponseMetadata."""
    pages = []
    while True:
        page = client.query(**request)
        page.pop("ResponseMetadata")
        pages.append(page)
        if "LastEvaluatedKey" not in page:
            return pages
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def _moto(monkeypatch: pytest.MonkeyPatch, originals: dict[str, Any], call: Callable[[], Any]) -> Any:
    """``call()`` with moto's own ``Table.query``."""
    with monkeypatch.context() as patch:
        owner, attribute = patches._owner(dynamodb_index.TABLE_QUERY)
        patch.setattr(owner, attribute, originals[dynamodb_index.TABLE_QUERY])
        return call()


def _employee(emp_id: str, shard: str | None, load: str = "L1", **more: dict[str, str]) -> dict[str, Any]:
    item = {"emp_id": {"S": emp_id}, "load_id": {"S": load}, "name": {"S": f"name {emp_id}"}, **more}
    if shard is not None:
        item["batch_shard"] = {"S": shard}
    return item


def _queries() -> list[dict[str, Any]]:
    by_shard = []
    for shard in SHARDS:
        key = {"TableName": EMPLOYEES, "IndexName": BY_SHARD, "KeyConditionExpression": "batch_shard = :k"}
        values = {":k": {"S": shard}}
        by_shard += [
            # The count check's Query.
            {**key, "ExpressionAttributeValues": {**values, ":l": {"S": "L1"}}, "Select": "COUNT"}
            | {"FilterExpression": "load_id = :l"},
            {**key, "ExpressionAttributeValues": values, "Limit": 7},
            {**key, "ExpressionAttributeValues": values, "Limit": 4, "ScanIndexForward": False},
            {**key, "ExpressionAttributeValues": values, "ProjectionExpression": "emp_id"},
            {
                **key,
                "KeyConditionExpression": "batch_shard = :k AND emp_id BETWEEN :a AND :z",
                "ExpressionAttributeValues": {**values, ":a": {"S": "e05"}, ":z": {"S": "e22"}},
                "Limit": 5,
            },
            {
                **key,
                "KeyConditionExpression": "batch_shard = :k AND begins_with(emp_id, :p)",
                "ExpressionAttributeValues": {**values, ":p": {"S": "e1"}},
            },
        ]
    table = [
        {"TableName": EMPLOYEES, "KeyConditionExpression": "emp_id = :e", "ExpressionAttributeValues": {":e": {"S": e}}}
        for e in ("e00", "e07", "e29", "absent")
    ]
    events = [
        {
            "TableName": EVENTS,
            "KeyConditionExpression": "pk = :p AND sk > :s",
            "ExpressionAttributeValues": {":p": {"S": "p1"}, ":s": {"N": "3"}},
            "Limit": 3,
            "ScanIndexForward": False,
        },
        {"TableName": EVENTS, "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p2"}}},
        {
            "TableName": EVENTS,
            "IndexName": BY_KIND,
            "KeyConditionExpression": "kind = :k",
            "ExpressionAttributeValues": {":k": {"S": "click"}},
            "Limit": 4,
        },
        {
            # 1 and 1.0 are the same number.
            "TableName": EVENTS,
            "IndexName": BY_SCORE,
            "KeyConditionExpression": "score = :s",
            "ExpressionAttributeValues": {":s": {"N": "1"}},
            "Limit": 2,
        },
        {
            "TableName": EVENTS,
            "IndexName": BY_TIME,
            "KeyConditionExpression": "pk = :p AND #at >= :t",
            "ExpressionAttributeNames": {"#at": "at"},
            "ExpressionAttributeValues": {":p": {"S": "p1"}, ":t": {"S": "t03"}},
        },
        {
            "TableName": EVENTS,
            "IndexName": BY_KIND,
            "KeyConditions": {"kind": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "view"}]}},
        },
    ]
    return by_shard + table + events


def _assert_same_as_moto(client: Any, monkeypatch: pytest.MonkeyPatch, originals: dict[str, Any]) -> list[Any]:
    answers = []
    for request in _queries():
        fast = _pages(client, dict(request))
        assert fast == _moto(monkeypatch, originals, lambda request=request: _pages(client, dict(request))), request
        answers.append(fast)
    return answers


def _fill(client: Any) -> None:
    for i in range(30):
        client.put_item(TableName=EMPLOYEES, Item=_employee(f"e{i:02d}", "b#0", load="L1" if i % 3 else "L0"))
    for i in range(30, 40):
        client.put_item(TableName=EMPLOYEES, Item=_employee(f"e{i:02d}", "b#1"))
    for i in range(40, 45):
        client.put_item(TableName=EMPLOYEES, Item=_employee(f"e{i:02d}", None))  # not in the index
    for i in range(12):
        item = {
            "pk": {"S": f"p{i % 3}"},
            "sk": {"N": str(i)},
            "kind": {"S": ("click", "view")[i % 2]},
            "score": {"N": ("1.0", "1", "2")[i % 3]},
            "at": {"S": f"t{(11 - i):02d}"},
        }
        client.put_item(TableName=EVENTS, Item=item)


def test_same_answers_as_moto_across_writes(dynamodb, monkeypatch, originals) -> None:
    client = dynamodb
    _fill(client)
    answers = _assert_same_as_moto(client, monkeypatch, originals)
    limit_7 = answers[1]  # shard b#0, Limit=7 over 30 items
    assert [page["Count"] for page in limit_7] == [7, 7, 7, 7, 2]
    assert [item["emp_id"]["S"] for page in limit_7 for item in page["Items"]] == [f"e{i:02d}" for i in range(30)]
    assert answers[0] == [{"Count": 20, "ScannedCount": 30}]

    # BatchWriteItem: new items, items moved to another shard (overwritten), deletes.
    requests = [{"PutRequest": {"Item": _employee(f"e{i:02d}", "b#2")}} for i in range(45, 60)]
    requests += [{"PutRequest": {"Item": _employee(f"e{i:02d}", "b#1", load="L2")}} for i in range(0, 6)]
    requests += [{"DeleteRequest": {"Key": {"emp_id": {"S": f"e{i:02d}"}}}} for i in range(30, 34)]
    client.batch_write_item(RequestItems={EMPLOYEES: requests})
    _assert_same_as_moto(client, monkeypatch, originals)

    # UpdateItem changes items in place: into another shard, out of the index, into it, a new item.
    def update(emp_id: str, expression: str, values: dict[str, Any] | None = None) -> None:
        extra = {"ExpressionAttributeValues": values} if values else {}
        client.update_item(TableName=EMPLOYEES, Key={"emp_id": {"S": emp_id}}, UpdateExpression=expression, **extra)

    update("e10", "SET batch_shard = :s", {":s": {"S": "b#2"}})
    update("e11", "REMOVE batch_shard")
    update("e40", "SET batch_shard = :s, load_id = :l", {":s": {"S": "b#0"}, ":l": {"S": "L3"}})
    update("e99", "SET batch_shard = :s", {":s": {"S": "b#9"}})
    update("e12", "SET load_id = :l", {":l": {"S": "L9"}})
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        client.update_item(
            TableName=EMPLOYEES,
            Key={"emp_id": {"S": "e13"}},
            UpdateExpression="SET batch_shard = :s",
            ConditionExpression="attribute_not_exists(emp_id)",
            ExpressionAttributeValues={":s": {"S": "b#9"}},
        )
    client.update_item(
        TableName=EVENTS,
        Key={"pk": {"S": "p1"}, "sk": {"N": "4"}},
        UpdateExpression="SET kind = :k, score = :s",
        ExpressionAttributeValues={":k": {"S": "view"}, ":s": {"N": "1.00"}},
    )
    _assert_same_as_moto(client, monkeypatch, originals)

    client.delete_item(TableName=EMPLOYEES, Key={"emp_id": {"S": "e20"}})
    client.delete_item(TableName=EVENTS, Key={"pk": {"S": "p2"}, "sk": {"N": "5"}})
    client.put_item(TableName=EMPLOYEES, Item=_employee("e21", "b#9"))
    _assert_same_as_moto(client, monkeypatch, originals)

    # A transaction, then one that fails and is rolled back (moto swaps in a copy of the table).
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": EMPLOYEES, "Item": _employee("e70", "b#0")}},
            {"Delete": {"TableName": EMPLOYEES, "Key": {"emp_id": {"S": "e22"}}}},
            {
                "Update": {
                    "TableName": EMPLOYEES,
                    "Key": {"emp_id": {"S": "e23"}},
                    "UpdateExpression": "SET batch_shard = :s",
                    "ExpressionAttributeValues": {":s": {"S": "b#1"}},
                }
            },
        ]
    )
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": EMPLOYEES, "Item": _employee("e71", "b#0")}},
                {
                    "Update": {
                        "TableName": EMPLOYEES,
                        "Key": {"emp_id": {"S": "e24"}},
                        "UpdateExpression": "SET batch_shard = :s",
                        "ConditionExpression": "attribute_not_exists(emp_id)",
                        "ExpressionAttributeValues": {":s": {"S": "b#9"}},
                    }
                },
            ]
        )
    answers = _assert_same_as_moto(client, monkeypatch, originals)
    b0 = [item["emp_id"]["S"] for page in answers[1] for item in page["Items"]]
    assert "e70" in b0 and "e71" not in b0 and "e40" in b0 and "e10" not in b0 and "e22" not in b0


def test_queries_never_visit_the_whole_table(dynamodb, monkeypatch) -> None:
    """moto's Query looks at every item through ``Table.all_items``; the replacement never calls it."""
    from moto.dynamodb.models.table import Table

    _fill(dynamodb)
    visits = []
    all_items = Table.all_items
    monkeypatch.setattr(Table, "all_items", lambda self: visits.append(self.name) or all_items(self))
    for request in _queries():
        _pages(dynamodb, dict(request))
    assert visits == []


def test_concurrent_writers_and_readers_end_as_moto(dynamodb, monkeypatch, originals) -> None:
    """Writers move items between shards on several threads while readers query: the maps end as the table."""
    client = dynamodb
    for i in range(200):
        client.put_item(TableName=EMPLOYEES, Item=_employee(f"e{i:03d}", SHARDS[i % 4]))
    client.query(  # the index's map exists before the writers start
        TableName=EMPLOYEES,
        IndexName=BY_SHARD,
        KeyConditionExpression="batch_shard = :k",
        ExpressionAttributeValues={":k": {"S": "b#0"}},
    )
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(150):
                emp_id = {"S": f"e{rng.randrange(220):03d}"}
                shard = {"S": rng.choice(SHARDS)}
                action = rng.randrange(4)
                if action == 0:
                    client.put_item(TableName=EMPLOYEES, Item={"emp_id": emp_id, "batch_shard": shard})
                elif action == 1:
                    client.update_item(
                        TableName=EMPLOYEES,
                        Key={"emp_id": emp_id},
                        UpdateExpression="SET batch_shard = :s",
                        ExpressionAttributeValues={":s": shard},
                    )
                elif action == 2:
                    client.delete_item(TableName=EMPLOYEES, Key={"emp_id": emp_id})
                else:
                    client.batch_write_item(
                        RequestItems={
                            EMPLOYEES: [
                                {"PutRequest": {"Item": {"emp_id": {"S": f"e{n:03d}"}, "batch_shard": shard}}}
                                for n in rng.sample(range(220), 5)
                            ]
                        }
                    )
        except BaseException as err:
            errors.append(err)

    def read() -> None:
        try:
            for n in range(100):
                _pages(
                    client,
                    {
                        "TableName": EMPLOYEES,
                        "IndexName": BY_SHARD,
                        "KeyConditionExpression": "batch_shard = :k",
                        "ExpressionAttributeValues": {":k": {"S": SHARDS[n % 4]}},
                        "Limit": 9,
                    },
                )
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(4)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _assert_same_as_moto(client, monkeypatch, originals)
