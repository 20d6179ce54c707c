"""The parse-time benchmark's floor and harness (no timings are asserted)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

from bench import parse_time


def test_the_minimal_dag_is_the_three_provider_operators_and_nothing_else() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(parse_time.MINIMAL_DAG_FILE))
    assert bag.import_errors == {}
    assert bag.dag_ids == [parse_time.DAG_IDS[parse_time.MINIMAL_DAG_FILE]]
    tasks = bag.dags[bag.dag_ids[0]].tasks
    assert len(tasks) == 3
    assert {type(task) for task in tasks} == {GlueJobOperator, LambdaInvokeFunctionOperator, S3KeySensor}


def test_each_file_parses_alone_into_its_dag_in_the_benchmark_subprocess() -> None:
    with tempfile.TemporaryDirectory() as home:
        env = parse_time.airflow_env(Path(home), parse_time.ENDPOINT_URL)
        for path in parse_time.DAG_IDS:
            # The child asserts the expected DAG id and no import errors; a failure raises here.
            assert parse_time.parse_seconds(path, env) > 0
