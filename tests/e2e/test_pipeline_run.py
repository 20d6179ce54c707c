"""A clean hourly run loads exactly the batch; the same hour again (even throttled) changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from employee_pipeline import config, layout, summary
from employee_pipeline.config import DAG_ID
from employee_pipeline.manifest import Manifest
from local_aws.faults import FAULT_TAG
from local_run import airflow_records, openlineage
from tests.support import lineage_events
from tests.support.pipeline import Pipeline, assert_no_record_in_airflow

pytestmark = [pytest.mark.e2e, pytest.mark.stage("e2e")]

HOUR = datetime(2026, 11, 24, 9, tzinfo=UTC)
BATCH = layout.batch_id_for(HOUR)
CONF = {"shards": 3, "records_per_shard": 150}
GENERATED = CONF["shards"] * CONF["records_per_shard"]
CONSOLE = "https://console.aws.amazon.com"
# The API server's extra-links endpoint, for every task instance of a run: what the UI shows.
UI_LINKS = """
import json, sys
from sqlalchemy import select
from airflow.api_fastapi.core_api.routes.public.extra_links import get_extra_links
from airflow.models.dagbag import DBDagBag
from airflow.models.taskinstance import TaskInstance as TI
from airflow.utils.session import create_session

dag_id, run_id = sys.argv[1:]
with create_session() as session:
    links = {}
    for task_id, map_index in session.execute(
        select(TI.task_id, TI.map_index).where(TI.dag_id == dag_id, TI.run_id == run_id)
    ):
        found = get_extra_links(
            dag_id=dag_id, dag_run_id=run_id, task_id=task_id, session=session, dag_bag=DBDagBag(), map_index=map_index
        ).extra_links
        if found:
            links[f"{task_id}[{map_index}]"] = found
print(json.dumps(links))
"""


def _ui_links(pipeline: Pipeline, run_id: str) -> dict[str, dict[str, str | None]]:
    shown = subprocess.run(
        [sys.executable, "-c", UI_LINKS, DAG_ID, run_id], env=pipeline.env, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr[-3000:]
    return json.loads(shown.stdout.splitlines()[-1])


def _assert_the_ui_tells_the_runs_story(pipeline: Pipeline, run_id: str, load_id: str) -> None:
    """The batch summary and every task's console links, as the metadata database and the API server hold them."""
    names, region = pipeline.names, "region=us-east-1"
    assert airflow_records.xcom_values(pipeline.home, DAG_ID, run_id, "read_manifest", summary.XCOM_KEY) == [
        {
            "batch_id": BATCH,
            "read": GENERATED,
            "valid": GENERATED,
            "quarantined": 0,
            "quarantined_fraction": 0.0,
            "top_quarantine_reasons": {},
            "quarantine": f"s3://{names.data_bucket}/{layout.quarantine_prefix(BATCH)}",
        }
    ]
    # What a task persists while it runs; its end makes the URL of it.
    assert airflow_records.xcom_values(pipeline.home, DAG_ID, run_id, "wait_for_objects", "s3_batch_objects") == [
        {
            "region_name": "us-east-1",
            "aws_domain": "aws.amazon.com",
            "bucket_name": names.data_bucket,
            "prefix": layout.raw_prefix(BATCH),
        }
    ]
    table = {"DynamoDB Table": f"{CONSOLE}/dynamodbv2/home?{region}#table?name={names.table}"}
    lease_table = {"DynamoDB Table": f"{CONSOLE}/dynamodbv2/home?{region}#table?name={names.lease_table}"}
    s3 = f"{CONSOLE}/s3/buckets/{names.data_bucket}?{region}&prefix="
    functions = f"{CONSOLE}/lambda/home?{region}#/functions/"
    shards = range(CONF["shards"])
    assert _ui_links(pipeline, run_id) == {
        "claim_batch[-1]": lease_table,
        **{f"generate[{s}]": {"Lambda Function": functions + names.generator_function} for s in shards},
        **{f"write[{s}]": {"Lambda Function": functions + names.writer_function} for s in shards},
        "wait_for_objects[-1]": {"S3 Batch Objects": f"{s3}raw/employees/dt%3D2026-11-24/hour%3D09/"},
        "ingest[-1]": {
            "AWS Glue Job Run Details": f"{CONSOLE}/gluestudio/home?{region}#/job/{names.glue_job}/run/{load_id}",
            "S3 Quarantine": f"{s3}quarantine/employees/dt%3D2026-11-24/hour%3D09/",
            **table,
        },
        "count_check[-1]": table,
        "release_batch[-1]": lease_table,
    }


def _assert_the_batches_metrics_were_published(pipeline: Pipeline, manifests: list[Manifest]) -> None:
    """One data point per run for each metric, summing what the runs' manifests say; no latency: these are
    manual runs (``dags test``), and only scheduled runs measure how fresh the hour is."""
    runs = len(manifests)

    def total(value: Callable[[Manifest], float]) -> tuple[int, float]:
        return runs, pytest.approx(sum(value(m) for m in manifests))

    published = {name: (int(p["SampleCount"]), p["Sum"]) for name, p in pipeline.published_metrics().items()}
    assert published == {
        config.METRIC_ROWS_READ: total(lambda m: m.read),
        config.METRIC_ROWS_LOADED: total(lambda m: m.written),
        config.METRIC_ROWS_QUARANTINED: total(lambda m: m.quarantined),
        config.METRIC_QUARANTINED_FRACTION: total(lambda m: m.quarantined / m.read),
        config.METRIC_DYNAMODB_RETRIES: total(lambda m: m.dynamodb_retries),
        config.METRIC_GLUE_LOAD_SECONDS: total(lambda m: m.timings["total_s"]),
        config.METRIC_BATCHES_LOADED: (runs, runs),
    }


def _assert_each_task_reported_its_lineage(pipeline: Pipeline, events: Path) -> None:
    """The run's OpenLineage events (file transport): every task that reads or writes data names it."""
    bucket = f"s3://{pipeline.names.data_bucket}"
    raw = {(bucket, layout.raw_key(BATCH, shard)) for shard in range(CONF["shards"])}
    # Namespace and name of the table spell its ARN, as DynamoDB reports it.
    arn = pipeline.aws.client("dynamodb").describe_table(TableName=pipeline.names.table)["Table"]["TableArn"]
    table = tuple(arn.rsplit(":", 1))
    reported = lineage_events.task_datasets(events, DAG_ID)
    assert reported["write"] == {"inputs": set(), "outputs": raw}
    assert reported["wait_for_objects"] == {"inputs": raw, "outputs": set()}
    assert reported["ingest"] == {
        "inputs": raw,
        "outputs": {table, (bucket, layout.quarantine_prefix(BATCH)), (bucket, layout.manifest_key(BATCH))},
    }
    assert reported["count_check"] == {"inputs": {table}, "outputs": set()}
    assert lineage_events.task_datasets(events, DAG_ID, "FAIL") == {}


def _raw_versions(pipeline) -> list[dict]:
    s3 = pipeline.aws.client("s3")
    listed = s3.list_object_versions(Bucket=pipeline.names.data_bucket, Prefix=layout.raw_prefix(BATCH))
    return listed.get("Versions", [])


def test_full_run_loads_exactly_the_batch_and_a_throttled_rerun_changes_nothing(pipeline) -> None:
    alerts = pipeline.subscribe_alerts()
    # The first run reports its OpenLineage events to a file (the rerun, without the provider, none).
    events = pipeline.home / "first-openlineage.jsonl"
    without_lineage = dict(pipeline.env)
    pipeline.env.update(openlineage.reporting_env(pipeline.env, openlineage.file_transport(events)))
    try:
        first = pipeline.run(HOUR, CONF, "first")
    finally:
        pipeline.env.clear()
        pipeline.env.update(without_lineage)
    assert first.succeeded, first.text[-5000:]
    run_id = airflow_records.run_ids(pipeline.home, DAG_ID)[-1]
    assert_no_record_in_airflow(pipeline, pipeline.home, run_id, BATCH, CONF["shards"], [first.text])
    assert set(first.states.values()) == {"success"}
    assert pipeline.count(BATCH, CONF["shards"]) == {s: CONF["records_per_shard"] for s in range(CONF["shards"])}
    assert pipeline.table_items() == GENERATED
    manifest = pipeline.manifest(BATCH)
    assert (manifest.read, manifest.valid, manifest.written, manifest.quarantined) == (
        GENERATED,
        GENERATED,
        GENERATED,
        0,
    )
    assert pipeline.alerts(alerts) == []  # no alert on success
    _assert_the_batches_metrics_were_published(pipeline, [manifest])
    _assert_the_ui_tells_the_runs_story(pipeline, run_id, manifest.load_id)
    _assert_each_task_reported_its_lineage(pipeline, events)
    etags = {(v["Key"], v["ETag"]) for v in _raw_versions(pipeline)}
    assert len(etags) == CONF["shards"]

    # The rerun meets DynamoDB throttling: 3 throttled batch writes, then 2 that hand every item back.
    ddb = pipeline.aws.client("dynamodb")
    table_arn = ddb.describe_table(TableName=pipeline.names.table)["Table"]["TableArn"]
    ddb.tag_resource(
        ResourceArn=table_arn,
        Tags=[{"Key": FAULT_TAG, "Value": "BatchWriteItem:ProvisionedThroughputExceededException:3"}],
    )
    rerun = pipeline.run(HOUR, CONF, "rerun")
    assert rerun.succeeded, rerun.text[-5000:]
    assert sum(pipeline.count(BATCH, CONF["shards"]).values()) == GENERATED
    assert pipeline.table_items() == GENERATED  # upserts: no duplicates
    again = pipeline.manifest(BATCH)
    assert again.written == GENERATED
    assert again.dynamodb_retries >= 3
    _assert_the_batches_metrics_were_published(pipeline, [manifest, again])
    # Every object was rewritten with byte-identical data: new versions, the same ETags.
    versions = _raw_versions(pipeline)
    assert len(versions) == 2 * CONF["shards"]
    assert {(v["Key"], v["ETag"]) for v in versions} == etags
