"""Whole DAG runs (`airflow dags test`) against the session's local AWS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from employee_pipeline import layout
from employee_pipeline.config import PipelineNames, pipeline_names
from employee_pipeline_ops.batch_count import count_batch
from infra.airflow_env import airflow_env
from infra.dag_run import DagRunResult, migrate, run_dag
from infra.deploy import deploy
from infra.notifications import topic_arn


@dataclass
class Pipeline:
    """One deployed stage plus an isolated Airflow to run the DAG against it."""

    aws: Any
    names: PipelineNames
    env: dict[str, str]
    home: Path

    def run(self, hour: datetime, conf: dict[str, Any], name: str, **kwargs: Any) -> DagRunResult:
        """One DAG run processing ``hour`` (a manual run with logical date L processes the hour before L)."""
        log = self.home / f"{name}.log"
        result = run_dag(self.env, hour + timedelta(hours=1), conf, log, progress=lambda _: None, **kwargs)
        result.text = log.read_text()  # type: ignore[attr-defined]
        return result

    def table(self) -> Any:
        return self.aws.session.resource("dynamodb", endpoint_url=self.aws.endpoint_url).Table(self.names.table)

    def count(self, batch_id: str, shards: int) -> dict[int, int]:
        return count_batch(
            self.table(), index_name=self.names.gsi, key_name="batch_shard", batch_id=batch_id, shards=shards
        )

    def table_items(self) -> int:
        return self.aws.client("dynamodb").scan(TableName=self.names.table, Select="COUNT")["Count"]

    def subscribe_alerts(self) -> str:
        """An SQS queue subscribed (raw delivery) to the stage's alert topic; returns its URL."""
        sqs, sns = self.aws.client("sqs"), self.aws.client("sns")
        queue = sqs.create_queue(QueueName=f"{self.names.stage}-alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        topic = topic_arn(self.aws, self.names.alerts_topic)
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        return queue

    def alerts(self, queue: str) -> list[dict[str, Any]]:
        received = self.aws.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return [json.loads(m["Body"]) for m in received.get("Messages", [])]

    def manifest(self, batch_id: str) -> dict[str, Any]:
        body = self.aws.client("s3").get_object(Bucket=self.names.data_bucket, Key=layout.manifest_key(batch_id))
        return json.loads(body["Body"].read())


@pytest.fixture(scope="module")
def pipeline(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, aws, local_aws: str) -> Pipeline:
    """A stage named after the test module, deployed, with a migrated AIRFLOW_HOME."""
    stage = request.module.STAGE
    names = pipeline_names(stage)
    deploy(aws, names)
    home = tmp_path_factory.mktemp(f"airflow-{stage}")
    env = airflow_env(home, local_aws, stage=stage)
    migrate(env, home / "migrate.log")
    return Pipeline(aws=aws, names=names, env=env, home=home)
