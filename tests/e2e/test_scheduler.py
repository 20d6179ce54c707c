"""Runs made by a real scheduler: a REST-triggered run with no logical date, and backfills."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from employee_pipeline import config, layout
from employee_pipeline.config import DAG_ID
from employee_pipeline.waiting import wait_until
from local_run import airflow_records
from tests.support.pipeline import assert_no_record_in_airflow

pytestmark = [pytest.mark.e2e, pytest.mark.stage("scheduler")]

DAG = DAG_ID
CONF = {"shards": 1, "records_per_shard": 40}
RUN_TIMEOUT_S = 900


def _wait(condition, what: str) -> None:
    wait_until(condition, timeout=RUN_TIMEOUT_S, message=f"timed out waiting for {what}", error=AssertionError)


def _clear_from_ingest(airflow, run_id: str) -> None:
    """Clear ``ingest`` and everything downstream of it in ``run_id``, whatever their state."""
    airflow.api(
        "POST",
        f"/api/v2/dags/{DAG}/clearTaskInstances",
        {
            "dag_run_id": run_id,
            "task_ids": ["ingest"],
            "include_downstream": True,
            "only_failed": False,
            "dry_run": False,
        },
    )


def _runs(airflow, run_type: str) -> list[dict]:
    return airflow.api("GET", f"/api/v2/dags/{DAG}/dagRuns?run_type={run_type}&limit=100")["dag_runs"]


def _task_state(airflow, run_path: str, task: str) -> str | None:
    try:
        return airflow.api("GET", f"{run_path}/taskInstances/{task}")["state"]
    except RuntimeError as err:
        if "-> 404" in str(err):  # not created yet (a mapped task before its expansion)
            return None
        raise


def _glue_runs(pipeline, batch: str) -> list[dict]:
    runs = pipeline.aws.client("glue").get_job_runs(JobName=pipeline.names.glue_job)["JobRuns"]
    return [run for run in runs if run["Arguments"].get("--batch_id") == batch]


def _utc(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def test_a_ten_hour_backfill_beside_another_run_completes_exactly_and_again_changes_no_count(airflow, pipeline) -> None:
    """A REST backfill at the API's default width (10 runs at once) beside a manual run of one of its hours
    and the unpaused DAG's scheduled runs: the ingests never outnumber the Glue job's concurrent runs
    (max_active_tis_per_dag), so no start is refused and retried. Three of its hours again change no count."""
    start = datetime(2026, 11, 20, 0, tzinfo=UTC)
    hours = [start + timedelta(hours=h) for h in range(10)]
    batches = [layout.batch_id_for(hour) for hour in hours]
    request = {"dag_id": DAG, "from_date": start.isoformat(), "dag_run_conf": CONF}

    def backfill(last: datetime, reprocess: str, **width: int) -> dict:
        body = {**request, "to_date": last.isoformat(), "reprocess_behavior": reprocess, **width}
        created = airflow.api("POST", "/api/v2/backfills", body)
        path = f"/api/v2/backfills/{created['id']}"
        _wait(lambda: airflow.api("GET", path)["completed_at"] is not None, path)
        return created

    _wait(lambda: _runs(airflow, "scheduled"), "the unpaused DAG's scheduled run")  # in flight beside the backfill
    beside = airflow.api(
        "POST",
        f"/api/v2/dags/{DAG}/dagRuns",
        {"logical_date": None, "run_after": (hours[4] + timedelta(minutes=30)).isoformat(), "conf": CONF},
    )["dag_run_id"]
    assert backfill(hours[-1], "none")["max_active_runs"] == 10  # the API's default
    beside_path = f"/api/v2/dags/{DAG}/dagRuns/{beside}"
    _wait(lambda: airflow.api("GET", beside_path)["state"] in ("success", "failed"), "the run beside the backfill")
    _wait(lambda: {r["state"] for r in _runs(airflow, "scheduled")} <= {"success", "failed"}, "the scheduled run")

    runs = [r for r in _runs(airflow, "backfill") if _utc(r["logical_date"]) in hours]
    assert sorted(r["state"] for r in runs) == ["success"] * 10, runs
    scheduled = _runs(airflow, "scheduled")
    assert {r["state"] for r in scheduled} == {"success"}, scheduled
    assert airflow.api("GET", beside_path)["state"] == "success"
    for run in [*runs, *scheduled, {"dag_run_id": beside}]:
        ingest = airflow.api("GET", f"/api/v2/dags/{DAG}/dagRuns/{run['dag_run_id']}/taskInstances/ingest")
        assert ingest["try_number"] == 1, ingest  # no start was refused and retried
    first = {batch: pipeline.count(batch, 1) for batch in batches}
    assert first == {batch: {0: CONF["records_per_shard"]} for batch in batches}
    items = _items_of(pipeline, batches)
    assert items == 10 * CONF["records_per_shard"]

    backfill(hours[2], "completed", max_active_runs=3)  # three of its hours again
    again = [r for r in _runs(airflow, "backfill") if _utc(r["logical_date"]) in hours[:3]]
    assert sorted(r["state"] for r in again) == ["success"] * 3, again
    assert {batch: pipeline.count(batch, 1) for batch in batches} == first
    assert _items_of(pipeline, batches) == items

    # How fresh each hour is: measured by the scheduled runs only (a backfill's or a manual run's hour is as
    # old as the day it is reprocessed), from the end of the hour to the passed count check.
    latency = pipeline.published_metrics()[config.METRIC_LATENCY_SECONDS]
    scheduled = [r for r in _runs(airflow, "scheduled") if r["state"] == "success"]
    assert latency["SampleCount"] == len(scheduled), (latency, scheduled)
    assert 0 < latency["Minimum"] <= latency["Maximum"] < 2 * 3600, latency


def test_rest_run_without_logical_date_then_cleared_from_the_middle(airflow, pipeline) -> None:
    created = airflow.api("POST", f"/api/v2/dags/{DAG}/dagRuns", {"logical_date": None, "conf": CONF})
    assert created["logical_date"] is None
    run_path = f"/api/v2/dags/{DAG}/dagRuns/{created['dag_run_id']}"
    batch = layout.batch_id_for(datetime.fromisoformat(created["run_after"].replace("Z", "+00:00")))

    # While Glue works, ingest is deferred (the triggerer waits; no worker slot is held).
    def deferred() -> bool:
        if _task_state(airflow, run_path, "ingest") == "deferred":
            return True
        assert airflow.api("GET", run_path)["state"] in ("queued", "running"), "the run ended before ingest deferred"
        return False

    wait_until(deferred, timeout=RUN_TIMEOUT_S, interval=0.3, message="ingest never deferred", error=AssertionError)
    assert [run["JobRunState"] for run in _glue_runs(pipeline, batch)] == ["RUNNING"]

    _wait(lambda: airflow.api("GET", run_path)["state"] in ("success", "failed"), "the REST-triggered run")
    assert airflow.api("GET", run_path)["state"] == "success"
    home, run_id = pipeline.home, created["dag_run_id"]  # the standalone shares the AIRFLOW_HOME
    task_logs = airflow_records.task_log_files(home, DAG, run_id)
    assert {path.relative_to(home / "logs").parts[2] for path in task_logs} >= {"task_id=generate", "task_id=write"}
    assert_no_record_in_airflow(pipeline, home, run_id, batch, CONF["shards"], [p.read_text() for p in task_logs])
    assert pipeline.count(batch, 1) == {0: CONF["records_per_shard"]}
    items = pipeline.table_items()

    # Cleared from the middle (ingest and everything after it), the run completes again, unchanged.
    _clear_from_ingest(airflow, created["dag_run_id"])

    def rerun_finished() -> bool:
        gate = airflow.api("GET", f"{run_path}/taskInstances/quarantine_gate")
        return gate["try_number"] == 2 and gate["state"] in ("success", "failed", "upstream_failed")

    _wait(rerun_finished, "the cleared run")
    assert airflow.api("GET", f"{run_path}/taskInstances/ingest")["try_number"] == 2
    assert airflow.api("GET", f"{run_path}/taskInstances/quarantine_gate")["state"] == "success"
    assert pipeline.count(batch, 1) == {0: CONF["records_per_shard"]}
    assert pipeline.table_items() == items


def test_a_failed_run_cleared_from_the_middle_loads_exactly_the_batch(airflow, pipeline) -> None:
    hour = datetime(2026, 11, 21, 7, tzinfo=UTC)
    batch = layout.batch_id_for(hour)
    s3, bucket, key = pipeline.aws.client("s3"), pipeline.names.data_bucket, layout.raw_key(batch, 0)
    # A manual run with logical date L processes the hour before L.
    logical_date = (hour + timedelta(hours=1)).isoformat()
    created = airflow.api("POST", f"/api/v2/dags/{DAG}/dagRuns", {"logical_date": logical_date, "conf": CONF})
    run_path = f"/api/v2/dags/{DAG}/dagRuns/{created['dag_run_id']}"

    # Once the writer stored the shard, one of its lines is spoiled (as many lines: the writer's count
    # holds), before the sensor and the Glue job get to it: the quarantine gate fails the run.
    wait_until(
        lambda: _task_state(airflow, run_path, "write/0") == "success",
        timeout=RUN_TIMEOUT_S,
        interval=0.3,
        message="the writer never succeeded",
        error=AssertionError,
    )
    written = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=b"not json\n" + written.split(b"\n", 1)[1])

    _wait(lambda: airflow.api("GET", run_path)["state"] in ("success", "failed"), "the failing run")
    assert airflow.api("GET", run_path)["state"] == "failed"
    assert airflow.api("GET", f"{run_path}/taskInstances/quarantine_gate")["state"] == "failed"
    assert pipeline.manifest(batch).quarantined == 1

    s3.put_object(Bucket=bucket, Key=key, Body=written)  # the cause is fixed
    _clear_from_ingest(airflow, created["dag_run_id"])
    _wait(lambda: airflow.api("GET", run_path)["state"] == "success", "the cleared run to succeed")
    assert pipeline.count(batch, 1) == {0: CONF["records_per_shard"]}
    assert pipeline.manifest(batch).quarantined == 0


def _claim_log(pipeline, run_id: str) -> str:
    logs = list(pipeline.home.rglob(f"run_id={run_id}/task_id=claim_batch/*.log"))
    return "\n".join(path.read_text(errors="replace") for path in logs)


def test_two_runs_of_one_hour_started_together_end_as_one_whole_run(airflow, pipeline) -> None:
    """The second waits for the first's lease, then replaces the batch: never an interleaving of the two."""
    hour = datetime(2026, 11, 19, 4, tzinfo=UTC)
    batch = layout.batch_id_for(hour)
    confs = {"together_a": {"shards": 3, "records_per_shard": 30}, "together_b": {"shards": 2, "records_per_shard": 45}}
    for run_id, conf in confs.items():  # same hour, different params, both in flight at once
        airflow.api(
            "POST",
            f"/api/v2/dags/{DAG}/dagRuns",
            {
                "dag_run_id": run_id,
                # No logical date: the run processes the hour of its run_after.
                "logical_date": None,
                "run_after": (hour + timedelta(minutes=30)).isoformat(),
                "conf": conf,
            },
        )

    def state(run_id: str) -> str:
        return airflow.api("GET", f"/api/v2/dags/{DAG}/dagRuns/{run_id}")["state"]

    _wait(lambda: all(state(r) in ("success", "failed") for r in confs), "both runs of the same hour")
    assert {r: state(r) for r in confs} == dict.fromkeys(confs, "success")

    # The run that waited wrote last: the batch is exactly its run, and its log says whom it waited for.
    waited = [r for r in confs if "is being written by DAG run" in _claim_log(pipeline, r)]
    assert len(waited) == 1, {r: _claim_log(pipeline, r)[-2000:] for r in confs}
    last, first = waited[0], next(r for r in confs if r != waited[0])
    assert f"is being written by DAG run {DAG}/{first}" in _claim_log(pipeline, last)
    conf = confs[last]
    manifest = pipeline.manifest(batch)
    load = airflow.api("GET", f"/api/v2/dags/{DAG}/dagRuns/{last}/taskInstances/ingest/xcomEntries/return_value")
    assert manifest.load_id == load["value"].strip('"')
    assert manifest.per_shard == {str(s): conf["records_per_shard"] for s in range(conf["shards"])}
    widest = max(c["shards"] for c in confs.values())
    assert pipeline.count(batch, widest) == {
        s: conf["records_per_shard"] if s < conf["shards"] else 0 for s in range(widest)
    }
    raw = pipeline.aws.client("s3").list_objects_v2(Bucket=pipeline.names.data_bucket, Prefix=layout.raw_prefix(batch))
    assert sorted(o["Key"] for o in raw["Contents"]) == [layout.raw_key(batch, s) for s in range(conf["shards"])]


def _items_of(pipeline, batches: list[str]) -> int:
    """Every item of ``batches``, in any shard (the table also holds the unpaused DAG's scheduled runs)."""
    ddb, count = pipeline.aws.client("dynamodb"), 0
    values = {f":b{i}": {"S": batch} for i, batch in enumerate(batches)}
    request = {
        "TableName": pipeline.names.table,
        "Select": "COUNT",
        "FilterExpression": f"batch_id IN ({', '.join(values)})",
        "ExpressionAttributeValues": values,
    }
    while True:
        page = ddb.scan(**request)
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return count
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_a_run_whose_teardown_never_ran_is_taken_over_by_the_next_run_of_its_hour(airflow, pipeline) -> None:
    """Run A ends as a dagrun_timeout ends it, its teardown skipped with everything unfinished, so its lease
    stays held: run B of the same hour takes it over at once, as the execution API says A has ended, not
    when the lease expires hours later. (Marking a run failed would still run its teardown.)"""
    batch = "20261121T10"  # both runs' run_after fall in this hour

    def trigger(minute: int) -> dict:
        return {"logical_date": None, "run_after": f"2026-11-21T10:{minute}:00+00:00", "conf": CONF}

    first = airflow.api("POST", f"/api/v2/dags/{DAG}/dagRuns", trigger(30))["dag_run_id"]
    first_path = f"/api/v2/dags/{DAG}/dagRuns/{first}"
    _wait(lambda: _task_state(airflow, first_path, "claim_batch") == "success", "the first run's claim")
    airflow.api("PATCH", f"{first_path}/taskInstances/release_batch", {"new_state": "skipped"})
    airflow.api("PATCH", first_path, {"state": "failed"})
    _wait(lambda: airflow.api("GET", first_path)["state"] == "failed", "the first run's end")
    assert _task_state(airflow, first_path, "release_batch") == "skipped"
    lease = pipeline.aws.client("dynamodb").get_item(
        TableName=pipeline.names.lease_table, Key={"batch_id": {"S": batch}}, ConsistentRead=True
    )["Item"]
    assert lease["owner"]["S"].startswith(f"{DAG}/{first}@")  # the teardown never released it

    started = time.monotonic()
    second = airflow.api("POST", f"/api/v2/dags/{DAG}/dagRuns", trigger(40))["dag_run_id"]
    second_path = f"/api/v2/dags/{DAG}/dagRuns/{second}"
    _wait(lambda: airflow.api("GET", second_path)["state"] in ("success", "failed"), "the second run")

    assert airflow.api("GET", second_path)["state"] == "success"
    assert time.monotonic() - started < 600  # the lease itself would have lasted hours
    log = airflow.api("GET", f"{second_path}/taskInstances/claim_batch/logs/1?full_content=true")
    assert f"Took over the lease of {DAG}/{first}@" in json.dumps(log)
    assert "its DAG run has ended (failed)" in json.dumps(log)
    assert pipeline.count(batch, 1) == {0: CONF["records_per_shard"]}
