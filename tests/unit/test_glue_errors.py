"""The Glue job fails only outside the data, and then its error's last line names the cause."""

from __future__ import annotations

import boto3
import pytest

import ingest_employees as driver
from employee_ingest import clients, errors
from employee_pipeline import layout


def test_python_cause_unwraps_an_executor_failure() -> None:
    wrapped = Exception(
        "An error occurred while calling o81.collectToPython.\n"
        ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 4.0 failed 1 times, "
        "most recent failure: Lost task 0.0: org.apache.spark.api.python.PythonException: "
        "Traceback (most recent call last):\n"
        '  File "ingest_employees.py", line 300, in write_items\n'
        "    retries += batch_write(client, table_name, chunk)\n"
        "RuntimeError: DynamoDB table t still throttles after 12 attempts (25 items unwritten)\n"
        "\n\tat org.apache.spark.api.python.BasePythonRunner.handlePythonException(PythonRunner.scala:572)"
    )
    assert (
        errors.python_cause(wrapped)
        == "RuntimeError: DynamoDB table t still throttles after 12 attempts (25 items unwritten)"
    )
    assert errors.python_cause(ValueError("plain driver error")) is None


def test_main_reraises_an_executor_failure_as_its_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    class Session:
        def stop(self) -> None:
            self.stopped = True

    class Builder:
        def appName(self, name: str) -> Builder:
            return self

        def getOrCreate(self) -> Session:
            return session

    session = Session()
    monkeypatch.setattr(driver.SparkSession, "builder", Builder())

    def failing_run(spark: object, args: object) -> None:
        raise Exception(
            "An error occurred while calling o81.collectToPython.\n"
            "Traceback (most recent call last):\n"
            '  File "x", line 1\n'
            "RuntimeError: DynamoDB table t still throttles\n"
        )

    monkeypatch.setattr(driver, "run", failing_run)
    arguments = layout.glue_job_arguments("20261125T14", "b", "t", shards=1, lease_table="l", lease_owner="o")
    argv = [item for pair in arguments.items() for item in pair]
    with pytest.raises(errors.IngestError, match=r"^RuntimeError: DynamoDB table t still throttles$"):
        driver.main(argv)
    assert session.stopped


def test_a_missing_table_is_named() -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")

    class Client:
        def describe_table(self, TableName: str) -> None:
            raise client.exceptions.ResourceNotFoundException(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "Requested resource not found"}},
                "DescribeTable",
            )

    with pytest.raises(client.exceptions.ResourceNotFoundException, match="DynamoDB table missing-table: Requested"):
        clients.describe_table(Client(), "missing-table")
