"""The operators' console links: the URLs, and what each operator persists for them at run time."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from airflow.models.taskinstancekey import TaskInstanceKey
from airflow.providers.amazon.aws.links import base_aws
from airflow.providers.amazon.aws.links.glue import GlueJobRunDetailsLink
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

from employee_pipeline_ops.batch_keys_sensor import S3BatchKeysSensor
from employee_pipeline_ops.count_check import DynamoDBBatchCountCheckOperator
from employee_pipeline_ops.glue_job import GlueJobRunOperator
from employee_pipeline_ops.lambda_invoke import LambdaInvokeOperator
from employee_pipeline_ops.lease_operators import DynamoDBBatchLeaseReleaseOperator, DynamoDBBatchLeaseSensor
from employee_pipeline_ops.links import (
    DynamoDBTableLink,
    LambdaFunctionLink,
    S3BatchObjectsLink,
    S3QuarantineLink,
    persist_link,
)

CONSOLE = "https://console.aws.amazon.com"
REGION = {"region_name": "eu-west-1", "aws_domain": "aws.amazon.com"}
TI_KEY = TaskInstanceKey("employee_batch_pipeline", "task", "manual__1", 1, -1)


@pytest.mark.parametrize(
    ("link", "parts", "url"),
    [
        (
            S3BatchObjectsLink(),
            {"bucket_name": "p-dev-data", "prefix": "raw/employees/dt=2026-11-24/hour=09/"},
            f"{CONSOLE}/s3/buckets/p-dev-data?region=eu-west-1&prefix=raw/employees/dt%3D2026-11-24/hour%3D09/",
        ),
        (
            S3QuarantineLink(),
            {"bucket_name": "p-dev-data", "prefix": "quarantine/employees/dt=2026-11-24/hour=09/"},
            f"{CONSOLE}/s3/buckets/p-dev-data?region=eu-west-1&prefix=quarantine/employees/dt%3D2026-11-24/hour%3D09/",
        ),
        (
            DynamoDBTableLink(),
            {"table_name": "p-dev-employees"},
            f"{CONSOLE}/dynamodbv2/home?region=eu-west-1#table?name=p-dev-employees",
        ),
        (
            LambdaFunctionLink(),
            {"function_name": "p-dev-generate"},
            f"{CONSOLE}/lambda/home?region=eu-west-1#/functions/p-dev-generate",
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, base_aws.BaseAwsLink) else "",
)
def test_console_urls(link: base_aws.BaseAwsLink, parts: dict[str, str], url: str) -> None:
    assert link.format_link(**REGION, **parts) == url


def test_a_link_without_its_parts_is_no_link() -> None:
    assert S3BatchObjectsLink().format_link(**REGION, bucket_name="b") == ""
    assert DynamoDBTableLink().format_link(**REGION, table_name=None) == ""


def test_every_link_has_its_own_name_and_xcom_keys() -> None:
    links = [
        GlueJobRunDetailsLink(),
        S3BatchObjectsLink(),
        S3QuarantineLink(),
        DynamoDBTableLink(),
        LambdaFunctionLink(),
    ]
    for attribute in ("name", "key", "xcom_key"):
        assert len({getattr(link, attribute) for link in links}) == len(links), attribute


class FakeHook:
    conn_region_name = "eu-west-1"
    conn_partition = "aws"


class FakeTaskInstance:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _persisted_url(
    monkeypatch: pytest.MonkeyPatch, operator: Any, link: base_aws.BaseAwsLink, **parts: Any
) -> tuple[dict[str, Any], str]:
    """What ``persist_link`` stores for ``operator``, and the URL the task's end makes of it (``get_link``)."""
    monkeypatch.setattr(type(operator), "hook", FakeHook())
    ti = FakeTaskInstance()
    persist_link(type(link), {"ti": ti}, operator, **parts)
    monkeypatch.setattr(base_aws.XCom, "get_value", lambda key, ti_key: ti.pushed.get(key))
    return ti.pushed, link.get_link(operator, ti_key=TI_KEY)


def test_persist_link_stores_the_parts_with_the_hooks_region_and_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    operator = DynamoDBBatchCountCheckOperator(
        task_id="count_check",
        table_name="t",
        index_name="i",
        batch_id="B",
        expected_per_shard={"0": 1},
        load_id="L",
        shard_limit=1,
    )
    pushed, url = _persisted_url(monkeypatch, operator, DynamoDBTableLink(), table_name="p-dev-employees")
    assert pushed == {"dynamodb_table": {**REGION, "table_name": "p-dev-employees"}}
    assert url == f"{CONSOLE}/dynamodbv2/home?region=eu-west-1#table?name=p-dev-employees"


def test_a_hook_that_cannot_tell_its_region_leaves_the_task_without_the_link() -> None:
    class NoRegion:
        @property
        def conn_region_name(self) -> str:
            raise RuntimeError("no region")

    class Operator:
        hook = NoRegion()
        log = logging.getLogger(__name__)

    ti = FakeTaskInstance()
    persist_link(DynamoDBTableLink, {"ti": ti}, Operator(), table_name="t")
    assert ti.pushed == {}


def test_the_sensor_links_to_the_folder_of_its_keys() -> None:
    keys = [
        "raw/employees/dt=2026-11-24/hour=09/part-00000.jsonl",
        "raw/employees/dt=2026-11-24/hour=09/part-00001.jsonl",
    ]
    assert S3BatchKeysSensor(task_id="s", bucket_name="b", bucket_key=keys).keys_prefix() == (
        "raw/employees/dt=2026-11-24/hour=09/"
    )
    assert S3BatchKeysSensor(task_id="s", bucket_name="b", bucket_key=keys[:1]).keys_prefix() == (
        "raw/employees/dt=2026-11-24/hour=09/"
    )
    assert S3BatchKeysSensor(task_id="s", bucket_name="b", bucket_key="top.jsonl").keys_prefix() == ""


@pytest.mark.parametrize(
    ("operator_class", "links"),
    [
        (S3BatchKeysSensor, ["S3 Batch Objects"]),
        (GlueJobRunOperator, ["AWS Glue Job Run Details", "S3 Quarantine", "DynamoDB Table"]),
        (DynamoDBBatchCountCheckOperator, ["DynamoDB Table"]),
        (LambdaInvokeOperator, ["Lambda Function"]),
        (DynamoDBBatchLeaseSensor, ["DynamoDB Table"]),
        (DynamoDBBatchLeaseReleaseOperator, ["DynamoDB Table"]),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "",
)
def test_each_operator_carries_its_links(operator_class: type, links: list[str]) -> None:
    assert [link.name for link in operator_class.operator_extra_links] == links


@pytest.mark.parametrize(
    ("operator", "provider_class", "persisted"),
    [
        (
            S3BatchKeysSensor(task_id="wait", bucket_name="b", bucket_key=["raw/h=09/part-0.jsonl"]),
            S3KeySensor,
            {"s3_batch_objects": {"bucket_name": "b", "prefix": "raw/h=09/"}},
        ),
        (
            GlueJobRunOperator(
                task_id="ingest", job_name="j", table_name="t", quarantine_bucket="b", quarantine_prefix="q/h=09/"
            ),
            GlueJobOperator,
            {
                "s3_quarantine": {"bucket_name": "b", "prefix": "q/h=09/"},
                "dynamodb_table": {"table_name": "t"},
            },
        ),
        (
            LambdaInvokeOperator(task_id="write", function_name="f", payload="{}"),
            LambdaInvokeFunctionOperator,
            {"lambda_function": {"function_name": "f"}},
        ),
    ],
    ids=lambda value: value.task_id if hasattr(value, "task_id") else "",
)
def test_execute_persists_the_links_parts_before_the_provider_operator_runs(
    monkeypatch: pytest.MonkeyPatch, operator: Any, provider_class: type, persisted: dict[str, dict[str, str]]
) -> None:
    ti = FakeTaskInstance()

    def provider_execute(self: Any, context: Any) -> str:
        assert set(ti.pushed) == set(persisted)  # persisted already, so the links show while the task defers
        return "done"

    monkeypatch.setattr(type(operator), "hook", FakeHook())
    monkeypatch.setattr(provider_class, "execute", provider_execute)
    assert operator.execute({"ti": ti}) == "done"
    assert ti.pushed == {key: {**REGION, **parts} for key, parts in persisted.items()}


def test_the_glue_operator_templates_where_the_job_writes() -> None:
    fields = set(GlueJobRunOperator.template_fields)
    assert {"job_name", "script_args", "table_name", "quarantine_bucket", "quarantine_prefix"} <= fields
