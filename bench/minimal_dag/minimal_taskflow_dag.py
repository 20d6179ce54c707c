"""The floor with TaskFlow: the three provider operators and one ``@task``, as the DAG's Python steps need.

Importing ``airflow.sdk.task`` loads the standard provider's PythonOperator module, a fixed cost no
DAG with a Python task avoids; ``bench.parse_time`` reports the DAG against both floors.
"""

from __future__ import annotations

import pendulum
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import DAG, task

with DAG(dag_id="minimal_with_taskflow", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):

    @task
    def plan() -> str:
        return "event"

    generate = LambdaInvokeFunctionOperator(task_id="generate", function_name="generate", payload=plan())
    wait = S3KeySensor(task_id="wait", bucket_name="bucket", bucket_key="key")
    ingest = GlueJobOperator(task_id="ingest", job_name="ingest")
    generate >> wait >> ingest
