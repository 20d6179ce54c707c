"""Faults during a run: the task fails with the cause, and a retry or rerun repairs everything."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import psutil
import pytest

from employee_pipeline import layout
from employee_pipeline.waiting import wait_until
from infra.deploy import deploy
from tests.support.glue import finished_run

pytestmark = [pytest.mark.e2e, pytest.mark.stage("recovery")]

CONF = {"shards": 2, "records_per_shard": 100}
GENERATED = CONF["shards"] * CONF["records_per_shard"]


def _assert_exactly_loaded(pipeline, batch_id: str) -> None:
    assert pipeline.count(batch_id, CONF["shards"]) == {0: 100, 1: 100}
    manifest = pipeline.manifest(batch_id)
    assert (manifest.read, manifest.valid, manifest.written, manifest.quarantined) == (
        GENERATED,
        GENERATED,
        GENERATED,
        0,
    )


def test_glue_failure_names_the_cause_and_the_retry_after_the_fix_loads_the_batch(pipeline) -> None:
    hour = datetime(2026, 11, 22, 5, tzinfo=UTC)
    batch_id = layout.batch_id_for(hour)
    ddb, s3 = pipeline.aws.client("dynamodb"), pipeline.aws.client("s3")
    ddb.delete_table(TableName=pipeline.names.table)
    seen: dict[str, object] = {}

    def fix_after_first_failure(task: str, state: str) -> bool:
        if task == "ingest" and state == "up_for_retry" and "manifest" not in seen:
            listed = s3.list_objects_v2(Bucket=pipeline.names.data_bucket, Prefix=layout.manifest_key(batch_id))
            seen["manifest"] = listed["KeyCount"]
            deploy(pipeline.aws, pipeline.names)  # the operator's fix: the table is back
        return False

    result = pipeline.run(hour, CONF, "glue-failure", kill_when=fix_after_first_failure)

    assert result.succeeded, result.text[-5000:]
    assert seen["manifest"] == 0  # no manifest claimed success while the table was missing
    assert "ended FAILED: botocore.errorfactory.ResourceNotFoundException" in result.text
    assert pipeline.table_items() == GENERATED
    _assert_exactly_loaded(pipeline, batch_id)


def test_a_run_killed_during_ingest_reruns_to_the_same_state(pipeline) -> None:
    hour = datetime(2026, 11, 22, 6, tzinfo=UTC)
    batch_id = layout.batch_id_for(hour)
    before = pipeline.table_items()

    killed = pipeline.run(hour, CONF, "killed", kill_when=lambda task, state: (task, state) == ("ingest", "running"))
    assert not killed.succeeded and killed.states.get("ingest") is None

    rerun = pipeline.run(hour, CONF, "after-kill")
    assert rerun.succeeded, rerun.text[-5000:]
    _assert_exactly_loaded(pipeline, batch_id)
    assert pipeline.table_items() == before + GENERATED


def _load_processes(batch_id: str) -> list[psutil.Process]:
    """The local Glue run of ``batch_id``: its driver and every process under it (Spark's JVM, workers)."""
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if any(arg.endswith("ingest_employees.py") for arg in cmdline) and batch_id in cmdline:
            return [process, *process.children(recursive=True)]
    return []


def test_a_run_killed_while_its_load_writes_is_fenced_off_by_the_rerun(pipeline) -> None:
    """The killed run's Glue load goes on after its run is gone; the rerun (other params) stops it before
    taking the batch, so the batch is exactly the rerun's, also once the killed load could have gone on.

    On AWS a large load writes for minutes, far longer than a small rerun takes to reach its count check.
    Locally the load is frozen (SIGSTOP) once it has written, to stand for that: unfenced, it would
    resume after the rerun (SIGCONT below) and write the rest of its 20,000 items over the rerun's batch.
    """
    hour = datetime(2026, 11, 22, 7, tzinfo=UTC)
    batch_id = layout.batch_id_for(hour)
    large, small = {"shards": 4, "records_per_shard": 5000}, {"shards": 1, "records_per_shard": 10}
    ddb, glue = pipeline.aws.client("dynamodb"), pipeline.aws.client("glue")
    before = pipeline.table_items()
    load: dict[str, Any] = {}

    def while_writing(task: str, state: str) -> bool:
        """Once the ingest's Glue run has written items of the batch: freeze the load, kill the run."""
        if (task, state) != ("ingest", "running"):
            return False

        def writing() -> bool:
            lease = ddb.get_item(TableName=pipeline.names.lease_table, Key={"batch_id": {"S": batch_id}})["Item"]
            load["run_id"] = lease.get("loading", {}).get("S", "")
            return bool(load["run_id"]) and sum(pipeline.count(batch_id, large["shards"]).values()) > 0

        wait_until(writing, timeout=300, interval=0.2, message="the load never started writing")
        load["processes"] = _load_processes(batch_id)
        for process in load["processes"]:
            process.suspend()
        return True

    killed = pipeline.run(hour, large, "killed-mid-load", kill_when=while_writing)
    assert not killed.succeeded and load["processes"]
    state = glue.get_job_run(JobName=pipeline.names.glue_job, RunId=load["run_id"])["JobRun"]["JobRunState"]
    assert state == "RUNNING"  # the load outlived its run

    try:
        rerun = pipeline.run(hour, small, "rerun-after-mid-load-kill")
    finally:
        for process in load["processes"]:  # let whatever was not stopped go on
            with contextlib.suppress(psutil.NoSuchProcess):
                process.resume()

    assert rerun.succeeded, rerun.text[-5000:]
    assert f"stopping its Glue run {load['run_id']}" in rerun.text
    final = finished_run(glue, pipeline.names.glue_job, load["run_id"])
    assert final["JobRunState"] == "STOPPED"
    assert not [p for p in load["processes"] if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert pipeline.count(batch_id, large["shards"]) == {0: 10, 1: 0, 2: 0, 3: 0}
    assert pipeline.table_items() == before + 10
    assert pipeline.manifest(batch_id).written == 10
