"""The floor of the DAG's parse time: the three provider operators it builds on, and nothing else.

``bench.parse_time`` parses this file beside ``dags/employee_batch_pipeline.py`` in the same run.
"""

from __future__ import annotations

import pendulum
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import DAG

with DAG(dag_id="minimal_provider_operators", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    generate = LambdaInvokeFunctionOperator(task_id="generate", function_name="generate")
    wait = S3KeySensor(task_id="wait", bucket_name="bucket", bucket_key="key")
    ingest = GlueJobOperator(task_id="ingest", job_name="ingest")
    generate >> wait >> ingest
