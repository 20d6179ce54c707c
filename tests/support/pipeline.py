"""A deployed stage with an isolated Airflow to run the DAG against it (the e2e and browser tiers): the
project's ``LocalStage`` in the session's local AWS, plus what the tests read back."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from employee_pipeline import layout
from employee_pipeline.config import DAG_ID
from employee_pipeline.manifest import Manifest
from infra.batch_state import batch_counts, published_metrics, read_manifest
from infra.notifications import topic_arn
from local_run import airflow_records
from local_run.dag_run import DagRunResult
from local_run.stage import LocalStage

RETRY_DELAY_CAP_S = 5


class Pipeline(LocalStage):
    """A stage deployed into the session's local AWS, with an isolated, migrated Airflow to run the DAG on it."""

    def __init__(self, stage: str, local_aws: str, home: Path) -> None:
        super().__init__(stage, endpoint=local_aws, home=home, migrate=True)

    def __enter__(self) -> Pipeline:
        super().__enter__()
        # A retry comes after seconds here, not the DAG's minutes: Airflow caps an exponential backoff at
        # core.max_task_retry_delay. What a test checks of a retry is that it happens and what it does.
        self.env["AIRFLOW__CORE__MAX_TASK_RETRY_DELAY"] = str(RETRY_DELAY_CAP_S)
        return self

    def run(self, hour: datetime, conf: dict[str, Any], name: str, **kwargs: Any) -> DagRunResult:
        """One DAG run processing ``hour`` (a manual run with logical date L processes the hour before L)."""
        log = self.home / f"{name}.log"
        result = self.run_batch(hour, conf, log, progress=lambda _: None, **kwargs)
        result.text = log.read_text()  # type: ignore[attr-defined]
        return result

    def count(self, batch_id: str, shards: int) -> dict[int, int]:
        return batch_counts(self.aws, self.names, batch_id, shards)

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

    def published_metrics(self) -> dict[str, dict[str, float]]:
        """Metric name -> SampleCount, Sum, Minimum, Maximum of what the stage's batches published (6 hours)."""
        return published_metrics(self.aws, self.names.stage, hours=6)

    def manifest(self, batch_id: str) -> Manifest:
        manifest = read_manifest(self.aws, self.names, batch_id)
        assert manifest is not None, f"no manifest for batch {batch_id}"
        return manifest


def assert_no_record_in_airflow(
    pipeline: Pipeline, home: Path, run_id: str, batch_id: str, shards: int, logs: list[str]
) -> None:
    """Every XCom row of the run under 1 KB; no record's id, name or email in ``logs`` or the rendered fields."""
    s3, bucket = pipeline.aws.client("s3"), pipeline.names.data_bucket
    records = [
        json.loads(line)
        for shard in range(shards)
        for line in s3.get_object(Bucket=bucket, Key=layout.raw_key(batch_id, shard))["Body"].iter_lines()
    ]
    assert records
    needles = {value for record in records for value in (record["emp_id"], record["name"], record["email"])}
    sizes = airflow_records.xcom_bytes(home, DAG_ID, run_id)
    assert sizes and max(sizes.values()) < 1024, max(sizes.items(), key=lambda item: item[1])
    # The shards of records went to the XCom prefix in S3: the rows only hold their paths.
    generated = airflow_records.xcom_values(home, DAG_ID, run_id, "generate")
    assert len(generated) == shards
    assert all(path.startswith(f"s3://aws_default@{bucket}/{layout.XCOM_PREFIX}/") for path in generated)
    rendered = airflow_records.rendered_fields(home, DAG_ID, run_id)
    for text in (*logs, *rendered.values()):
        assert not [needle for needle in needles if needle in text]
