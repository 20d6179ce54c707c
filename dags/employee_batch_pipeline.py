"""
### Hourly employee batch pipeline

Every hour, for the data interval's hour (the **batch**, `YYYYMMDDTHH` UTC):

1. **plan** - resolve the batch id and the stage's resource names.
   **claim_batch** (setup) - wait until this run holds the batch's lease, so two runs of the
   same hour never write it at once (rescheduled between checks: no worker is held while it
   waits); **release_batch** (teardown) frees it however the run ends. The lease fences the load:
   before it changes hands, the Glue run recorded on it is stopped and waited for.
   **shard_events** - one generator event per shard.
2. **generate** - the generator Lambda makes `records_per_shard` mock employees per shard
   (Faker seeded from batch and shard: a rerun regenerates identical data).
   Large XComs (a shard of records) are kept in S3 by the object-storage XCom backend, never
   in the metadata database, and no task log echoes a record.
3. **write** - the writer Lambda stores each shard as
   `raw/employees/dt=YYYY-MM-DD/hour=HH/part-NNNNN.jsonl` (idempotent overwrite).
4. **wait_for_objects** - a deferrable `S3KeySensor` on exactly the batch's keys; a timeout
   names the keys still missing.
5. **ingest** - the Glue Spark job validates (DynamoDB's item limits included), quarantines
   bad rows, de-duplicates and upserts into DynamoDB, removes what earlier runs of the hour
   left, then writes the batch manifest. The task defers: the triggerer, not a worker, waits.
   A retry re-attaches to this run's unfinished Glue run instead of starting a second one;
   clearing or marking the deferred task stops the Glue run.
6. **read_manifest** - loads the manifest and checks that it read exactly this run's shard
   objects, in full; its XCom `batch_summary` is the batch at a glance: rows read, valid and
   quarantined, the top quarantine reasons and where the quarantined rows are.
7. **count_check** - counts every shard of the batch in DynamoDB through the `batch_id#shard`
   GSI and fails unless each holds exactly this load's valid rows and nothing else, and unless
   this run still holds the batch for this load once counted.
8. **quarantine_gate** - publishes the batch's CloudWatch metrics (`employee_pipeline.batch_metrics`),
   then fails when more than `max_quarantine_fraction` (default 0) of the rows were quarantined,
   naming the quarantine location and the top reasons. Once it passes, it
   emits an asset event on the raw objects and the table (`employee_pipeline.assets`), keyed by the batch.

A task that fails for good publishes an alert to the stage's SNS topic. The tasks that touch AWS
link to what they touched (the task's links in the UI): the Lambda functions, the batch's raw
objects, the Glue job run, the quarantine prefix and the DynamoDB tables.
A run unfinished `FRESHNESS_DEADLINE_MINUTES` after its hour ended publishes one late-run alert there.

A manual run without a logical date processes the hour of its `run_after`.
The stage comes from the Airflow Variable `employee_pipeline_stage` (default `dev`),
the name prefix from `employee_pipeline_prefix`; both are read at run time only.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task
from airflow.sdk.exceptions import AirflowFailException

from employee_pipeline import assets, batch_metrics, config, layout, quality, summary
from employee_pipeline.alerts import freshness_deadline, publish_failure_alert
from employee_pipeline.manifest import Manifest
from employee_pipeline_ops.batch_keys_sensor import S3BatchKeysSensor
from employee_pipeline_ops.batch_lease import owner_id
from employee_pipeline_ops.count_check import DynamoDBBatchCountCheckOperator
from employee_pipeline_ops.glue_job import GlueJobRunOperator
from employee_pipeline_ops.lambda_invoke import LambdaInvokeOperator
from employee_pipeline_ops.lease_operators import DynamoDBBatchLeaseReleaseOperator, DynamoDBBatchLeaseSensor

AWS_CONN_ID = config.AWS_CONN_ID


def batch_hour(data_interval_start: Any, run_after: Any) -> Any:
    """The hour a run processes: its data interval, else (manual run) the hour of run_after."""
    return data_interval_start if data_interval_start is not None else run_after


@dag(
    dag_id=config.DAG_ID,
    schedule=CronDataIntervalTimetable("@hourly", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=config.MAX_ACTIVE_RUNS,
    dagrun_timeout=timedelta(seconds=config.DAGRUN_TIMEOUT_S),
    # A run unfinished this long after its hour ended alerts the stage's SNS topic once.
    deadline=freshness_deadline(config.FRESHNESS_DEADLINE_MINUTES),
    default_args={
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,  # a multiplier: True is 1, a constant delay
        "max_retry_delay": timedelta(minutes=10),
        # Published once a task has failed for good (not on retries).
        "on_failure_callback": publish_failure_alert,
    },
    params={
        "shards": Param(
            config.DEFAULT_SHARDS,
            type="integer",
            minimum=1,
            maximum=layout.MAX_SHARDS,
            description="Generator invocations (shards).",
        ),
        "records_per_shard": Param(
            config.DEFAULT_RECORDS_PER_SHARD,
            type="integer",
            minimum=1,
            maximum=layout.MAX_RECORDS_PER_SHARD,
            description="Records each generator invocation makes.",
        ),
        "max_quarantine_fraction": Param(
            config.DEFAULT_MAX_QUARANTINE_FRACTION,
            type="number",
            minimum=0,
            maximum=1,
            # NaN passes minimum and maximum (every comparison with it is false). For the same reason
            # {"maximum": -1} accepts NaN and no number in [0, 1]: "not" turns it into a NaN check.
            **{"not": {"maximum": -1}},
            description="Fraction of rows that may be quarantined before the run fails (after loading).",
        ),
    },
    tags=["employee", "lambda", "glue", "dynamodb", "hourly"],
    doc_md=__doc__,
)
def employee_batch_pipeline() -> None:
    @task(multiple_outputs=True)
    def plan(params: dict[str, Any], data_interval_start: Any = None, dag_run: Any = None) -> dict[str, Any]:
        """Resolve the batch and every name the downstream tasks need."""
        names = config.names_from_variables()
        batch_id = layout.batch_id_for(batch_hour(data_interval_start, dag_run.run_after))
        shards, per_shard = int(params["shards"]), int(params["records_per_shard"])
        lease_owner = owner_id(dag_run.dag_id, dag_run.run_id, config.deployment_id())
        return {
            "batch_id": batch_id,
            "shards": shards,
            "bucket": names.data_bucket,
            "generator_function": names.generator_function,
            "writer_function": names.writer_function,
            "glue_job": names.glue_job,
            "table": names.table,
            "index": names.gsi,
            "lease_table": names.lease_table,
            "lease_owner": lease_owner,
            "manifest_key": layout.manifest_key(batch_id),
            "keys": [layout.raw_key(batch_id, shard) for shard in range(shards)],
            "records_per_shard": per_shard,
            "glue_args": layout.glue_job_arguments(
                batch_id,
                names.data_bucket,
                names.table,
                shards=shards,
                lease_table=names.lease_table,
                lease_owner=lease_owner,
            ),
        }

    @task
    def shard_events(batch_id: str, shards: int, records_per_shard: int) -> list[str]:
        """One generator event per shard (mapping needs its own list-valued task)."""
        return [json.dumps({"batch_id": batch_id, "shard": s, "count": records_per_shard}) for s in range(shards)]

    batch = plan()
    claim = DynamoDBBatchLeaseSensor(
        task_id="claim_batch",
        table_name=batch["lease_table"],
        batch_id=batch["batch_id"],
        lease_owner=batch["lease_owner"],
        lease_seconds=config.LEASE_SECONDS,
        glue_job_name=batch["glue_job"],
        aws_conn_id=AWS_CONN_ID,
        mode="reschedule",
        poke_interval=10,
        timeout=timedelta(hours=1).total_seconds(),
    )
    events = shard_events(batch["batch_id"], batch["shards"], batch["records_per_shard"])
    claim >> events

    generate = LambdaInvokeOperator.partial(
        task_id="generate", function_name=batch["generator_function"], aws_conn_id=AWS_CONN_ID
    ).expand(payload=events)

    write = LambdaInvokeOperator.partial(
        task_id="write", function_name=batch["writer_function"], aws_conn_id=AWS_CONN_ID
    ).expand(payload=generate.output)

    wait_for_objects = S3BatchKeysSensor(
        task_id="wait_for_objects",
        bucket_name=batch["bucket"],
        bucket_key=batch["keys"],
        aws_conn_id=AWS_CONN_ID,
        deferrable=True,
        poke_interval=15,
        timeout=timedelta(minutes=15).total_seconds(),
    )

    ingest = GlueJobRunOperator(
        task_id="ingest",
        job_name=batch["glue_job"],
        script_args=batch["glue_args"],
        aws_conn_id=AWS_CONN_ID,
        verbose=True,
        # The triggerer waits for the run: no worker slot is held while Glue works.
        deferrable=True,
        # Scheduled, manual and backfill runs together never start more loads than the job accepts.
        max_active_tis_per_dag=config.GLUE_CONCURRENT_RUNS,
        waiter_delay=config.GLUE_POLL_S,
        waiter_max_attempts=config.GLUE_TIMEOUT_MINUTES * 60 // config.GLUE_POLL_S,
        # Fenced by the lease: a retry re-attaches to this run's unfinished Glue run (whatever its
        # state) instead of starting a second one, and no run starts once the lease is lost.
        lease_table=batch["lease_table"],
        batch_id=batch["batch_id"],
        lease_owner=batch["lease_owner"],
        stop_job_run_on_kill=True,
    )

    @task(multiple_outputs=True)
    def read_manifest(bucket: str, key: str, written: list[str], load_id: str, ti: Any = None) -> dict[str, Any]:
        """Load the batch manifest, check it is this run's load of exactly what the writers wrote, summarize it."""
        manifest = Manifest.from_json(S3Hook(aws_conn_id=AWS_CONN_ID).read_key(key=key, bucket_name=bucket))
        expected = quality.check_manifest(manifest, [json.loads(result) for result in written], load_id)
        ti.xcom_push(key=summary.XCOM_KEY, value=summary.batch_summary(manifest, bucket))
        return {**manifest.as_dict(), "expected": expected}

    # GlueJobOperator returns the job run id: the load id every item of this run carries.
    manifest = read_manifest(batch["bucket"], batch["manifest_key"], write.output, ingest.output)

    count_check = DynamoDBBatchCountCheckOperator(
        task_id="count_check",
        table_name=batch["table"],
        index_name=batch["index"],
        batch_id=batch["batch_id"],
        expected_per_shard=manifest["per_shard"],
        load_id=manifest["load_id"],
        shard_limit=layout.MAX_SHARDS,
        key_name=config.GSI_KEY,
        load_attribute=config.LOAD_ATTRIBUTE,
        lease_table=batch["lease_table"],
        lease_owner=batch["lease_owner"],
        aws_conn_id=AWS_CONN_ID,
    )

    @task(outlets=assets.OUTLETS)
    def quarantine_gate(
        manifest: dict[str, Any], bucket: str, params: dict[str, Any], outlet_events: Any = None
    ) -> float:
        """Fail (without retries: the data will not change) above the tolerated quarantine fraction."""
        loaded = Manifest.parse(manifest)
        batch_metrics.publish_batch_metrics(loaded, float(params["max_quarantine_fraction"]), bucket)
        try:
            fraction = quality.check_quarantine(loaded, float(params["max_quarantine_fraction"]), bucket)
        except quality.QuarantineThresholdError as err:
            raise AirflowFailException(str(err)) from err
        # Checked and within tolerance: downstream DAGs learn of the batch (a failed gate emits nothing).
        assets.announce_batch(outlet_events, loaded, config.names_from_variables())
        return fraction

    gate = quarantine_gate(manifest, batch["bucket"])

    release = DynamoDBBatchLeaseReleaseOperator(
        task_id="release_batch",
        table_name=batch["lease_table"],
        batch_id=batch["batch_id"],
        lease_owner=batch["lease_owner"],
        glue_job_name=batch["glue_job"],
        aws_conn_id=AWS_CONN_ID,
    )

    write >> wait_for_objects >> ingest >> manifest >> count_check >> gate >> release.as_teardown(setups=claim)


employee_batch_pipeline()
