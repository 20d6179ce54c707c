"""The tasks' console links as the API server sees them: on the DAG the scheduler serialized, read from XCom."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "employee_batch_pipeline.py"
# Task -> {link name: the XCom key the task's end stores the URL under}.
LINKS = {
    "claim_batch": {"DynamoDB Table": "_link_DynamoDBTableLink"},
    "generate": {"Lambda Function": "_link_LambdaFunctionLink"},
    "write": {"Lambda Function": "_link_LambdaFunctionLink"},
    "wait_for_objects": {"S3 Batch Objects": "_link_S3BatchObjectsLink"},
    "ingest": {
        "AWS Glue Job Run Details": "_link_GlueJobRunDetailsLink",
        "S3 Quarantine": "_link_S3QuarantineLink",
        "DynamoDB Table": "_link_DynamoDBTableLink",
    },
    "count_check": {"DynamoDB Table": "_link_DynamoDBTableLink"},
    "release_batch": {"DynamoDB Table": "_link_DynamoDBTableLink"},
}


@pytest.fixture(scope="module")
def serialized() -> dict:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return DagSerialization.to_dict(bag.dags["employee_batch_pipeline"])


def test_after_the_round_trip_each_task_carries_exactly_its_links(serialized: dict) -> None:
    from airflow.serialization.definitions.operatorlink import XComOperatorLink
    from airflow.serialization.serialized_objects import DagSerialization

    dag = DagSerialization.from_dict(serialized)
    found = {}
    for task in dag.tasks:
        links = task.operator_extra_link_dict
        # What the API server uses: the URL the task stored, no code of ours (so no plugin to register).
        assert all(type(link) is XComOperatorLink for link in links.values()), task.task_id
        if links:
            found[task.task_id] = {name: link.xcom_key for name, link in links.items()}
    assert found == LINKS


def test_no_link_is_computed_at_parse_time(serialized: dict) -> None:
    text = json.dumps(serialized)
    assert "console." not in text and "dynamodbv2" not in text
