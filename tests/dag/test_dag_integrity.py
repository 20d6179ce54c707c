"""Per-file DAG integrity: every file in dags/ imports cleanly, without I/O, into exactly the expected DAGs."""

from __future__ import annotations

import itertools
import socket
from datetime import timedelta
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(DAGS.glob("*.py"))
EXPECTED_DAG_IDS = {"employee_batch_pipeline.py": {"employee_batch_pipeline"}}


def _no_io(*args: object, **kwargs: object) -> None:
    raise AssertionError("I/O at DAG parse time")


@pytest.fixture
def forbid_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any network call, AWS call or Variable read during parsing fails the test."""
    import botocore.client
    from airflow.sdk import Variable

    monkeypatch.setattr(socket.socket, "connect", _no_io)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", _no_io)
    monkeypatch.setattr(Variable, "get", _no_io)


def _load(path: Path) -> object:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(path))


def test_every_dag_file_is_covered() -> None:
    assert {p.name for p in DAG_FILES} == set(EXPECTED_DAG_IDS)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_imports_without_errors_or_io(path: Path, forbid_io: None) -> None:
    bag = _load(path)
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == EXPECTED_DAG_IDS[path.name]


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dags_have_tags_docs_retries_and_bounded_runs(path: Path) -> None:
    for dag in _load(path).dags.values():
        assert dag.tags, f"{dag.dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 200, f"{dag.dag_id} lacks documentation"
        assert not dag.catchup
        assert 1 <= dag.max_active_runs <= 5
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag.dag_id}.{task.task_id} retries {task.retries}"
            assert task.retry_delay >= timedelta(seconds=30)


def test_pipeline_shape() -> None:
    dag = _load(DAGS / "employee_batch_pipeline.py").dags["employee_batch_pipeline"]
    for task in dag.tasks:  # retries back off exponentially (a multiplier of 1 is a constant delay), capped
        assert task.retry_exponential_backoff >= 2 and task.max_retry_delay == timedelta(minutes=10), task.task_id
    order = [
        "plan",
        "claim_batch",
        "shard_events",
        "generate",
        "write",
        "wait_for_objects",
        "ingest",
        "read_manifest",
        "count_check",
        "quarantine_gate",
        "release_batch",
    ]
    assert set(dag.task_ids) == set(order)
    for upstream, downstream in itertools.pairwise(order):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    # The lease is a setup/teardown pair: released however the run ends, never deciding its state.
    assert dag.get_task("claim_batch").is_setup
    assert dag.get_task("release_batch").is_teardown
    assert "release_batch" in dag.get_task("claim_batch").downstream_task_ids
    assert dag.get_task("wait_for_objects").deferrable
    assert dag.get_task("ingest").verbose
    # Glue runs while the triggerer waits: no worker slot is held.
    assert dag.get_task("ingest").deferrable
    # A shard of records is never rendered into the metadata database.
    assert "payload" not in dag.get_task("write").template_fields
    # The lease fences the load: the ingest task and the count check read it, the claim waits rescheduled.
    ingest = dag.get_task("ingest")
    assert ingest.lease_table and ingest.lease_owner and not ingest.resume_glue_job_on_retry
    assert dag.get_task("count_check").lease_table
    assert dag.get_task("claim_batch").mode == "reschedule"
    # Running and deferred ingests of every run, backfills included, never outnumber the Glue job's limit.
    from infra.compute import MAX_CONCURRENT_RUNS

    assert ingest.max_active_tis_per_dag == MAX_CONCURRENT_RUNS
    assert all(task.on_failure_callback for task in dag.tasks)
    assert set(dag.params.keys()) == {"shards", "records_per_shard", "max_quarantine_fraction"}
    assert dag.params["max_quarantine_fraction"] == 0
    assert dag.params["shards"] >= 2
    assert dag.params["shards"] * dag.params["records_per_shard"] >= 1000
    assert dag.start_date.year == 2026 and dag.start_date.tzinfo is not None


def test_manual_run_without_logical_date_uses_the_hour_of_run_after() -> None:
    import pendulum

    from employee_batch_pipeline import batch_hour
    from employee_pipeline.layout import batch_id_for

    run_after = pendulum.datetime(2026, 11, 25, 14, 37, tz="UTC")
    assert batch_id_for(batch_hour(None, run_after)) == "20261125T14"
    interval_start = pendulum.datetime(2026, 11, 25, 9, tz="UTC")
    assert batch_id_for(batch_hour(interval_start, run_after)) == "20261125T09"


@pytest.mark.parametrize("fraction", [float("nan"), float("inf"), float("-inf"), -0.01, 1.01, "0.1", None])
def test_the_quarantine_fraction_param_rejects_what_is_not_a_number_in_0_1(fraction: object) -> None:
    from airflow.sdk.definitions.param import ParamValidationError

    dag = _load(DAGS / "employee_batch_pipeline.py").dags["employee_batch_pipeline"]
    param = dag.params.get_param("max_quarantine_fraction")
    with pytest.raises(ParamValidationError):
        param.resolve(fraction)


@pytest.mark.parametrize("fraction", [0, 0.0, 0.25, 1, 1.0])
def test_the_quarantine_fraction_param_accepts_0_to_1(fraction: float) -> None:
    dag = _load(DAGS / "employee_batch_pipeline.py").dags["employee_batch_pipeline"]
    assert dag.params.get_param("max_quarantine_fraction").resolve(fraction) == fraction


def test_the_dag_serializes_as_the_scheduler_stores_it() -> None:
    """An operator argument shadowing a BaseOperator field (``owner``, say) fails only here before a run."""
    from airflow.serialization.serialized_objects import DagSerialization

    dag = _load(DAGS / "employee_batch_pipeline.py").dags["employee_batch_pipeline"]
    assert DagSerialization.to_dict(dag)["dag"]["dag_id"] == "employee_batch_pipeline"
