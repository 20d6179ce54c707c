"""One measured DAG run at a given size on the local AWS, and the baselines on the same records."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import baselines
from bench.memory import PeakRss
from employee_pipeline import layout
from employee_pipeline.config import DAG_ID, GSI_KEY, PipelineNames
from infra.batch_state import read_manifest
from infra.session import AwsTarget
from local_aws import stats
from local_run import airflow_records
from local_run.stage import LocalStage

# Stage -> the DAG task whose span it is (a mapped task's: first start to last end).
STAGES = {
    "generate": "generate",
    "write": "write",
    "wait": "wait_for_objects",
    "ingest": "ingest",
    "count_check": "count_check",
}
DYNAMODB_WRITES = ("BatchWriteItem", "PutItem", "UpdateItem", "DeleteItem")
PUT_ITEM_SAMPLE = 10_000  # per-item PutItem is slow on the emulator: its rate is measured on this many


@dataclass
class Size:
    records: int
    records_per_shard: int

    @property
    def shards(self) -> int:
        return -(-self.records // self.records_per_shard)


def _mb(size: int) -> float:
    return round(size / 2**20, 1)


def _spans(home: Path, run_id: str) -> dict[str, float]:
    spans = airflow_records.task_spans(home, DAG_ID, run_id)
    return {stage: spans[task].seconds for stage, task in STAGES.items() if task in spans}


def _xcom_and_logs(home: Path, run_id: str, log: Path) -> dict[str, Any]:
    rows = airflow_records.xcom_bytes(home, DAG_ID, run_id)
    per_ti = airflow_records.per_task_instance(rows)
    # ``airflow dags test`` writes every task's log into its one output, not into per-task files.
    log_bytes = log.stat().st_size
    return {
        "xcom_row_max_bytes": max(rows.values(), default=0),
        "xcom_per_task_instance_max_bytes": max(per_ti.values(), default=0),
        "xcom_total_bytes": sum(rows.values()),
        "xcom_rows": len(rows),
        "task_log_total_bytes": log_bytes,
    }


def measure(stage: LocalStage, hour: datetime, size: Size, say: Any) -> dict[str, Any]:
    """Run the DAG once on ``stage`` for ``hour`` at ``size``; every figure of that run, then the baselines."""
    target, endpoint, names, home = stage.aws, stage.endpoint, stage.names, stage.home
    batch_id = layout.batch_id_for(hour)
    log = home / f"run-{size.records}.log"
    stats.request_counts(endpoint, reset=True)
    stats.lambda_invocations(endpoint, reset=True)
    stats.glue_runs(endpoint, reset=True)
    sampler: list[PeakRss] = []
    say(f"run: {size.shards} shards x {size.records_per_shard} records for batch {batch_id}")
    started = time.perf_counter()
    result = stage.run_batch(
        hour,
        {"shards": size.shards, "records_per_shard": size.records_per_shard},
        log,
        progress=say,
        on_start=lambda pid: sampler.append(PeakRss(pid)),
    )
    wall = time.perf_counter() - started
    airflow_rss = sampler[0].stop() if sampler else None
    if not result.succeeded:
        raise RuntimeError(f"the DAG run for {size.records} records failed: see {log}")
    requests = stats.request_counts(endpoint)
    glue = stats.glue_runs(endpoint)
    manifest = read_manifest(target, names, batch_id)
    run_id = airflow_records.run_ids(home, DAG_ID)[-1]
    stages = _spans(home, run_id)
    dynamodb = requests.get("dynamodb", {})
    figures: dict[str, Any] = {
        "records": size.records,
        "shards": size.shards,
        "records_per_shard": size.records_per_shard,
        "run_wall_s": round(wall, 1),
        "stages_s": {stage: round(seconds, 1) for stage, seconds in stages.items()},
        "stages_records_per_s": {stage: round(size.records / s) for stage, s in stages.items() if s},
        "glue_timings_s": dict(manifest.timings) if manifest else {},
        "dynamodb_write_requests_per_1k_records": round(
            sum(dynamodb.get(op, 0) for op in DYNAMODB_WRITES) * 1000 / size.records, 1
        ),
        "dynamodb_batch_writes_per_1k_records": round(dynamodb.get("BatchWriteItem", 0) * 1000 / size.records, 1),
        "dynamodb_requests": dynamodb,
        "s3_requests": sum(requests.get("s3", {}).values()),
        "s3_requests_by_operation": requests.get("s3", {}),
        **_xcom_and_logs(home, run_id, log),
        "glue_peak_tree_rss_mb": _mb(max((run["peak_tree_rss_bytes"] for run in glue), default=0)),
        "airflow_peak_tree_rss_mb": _mb(airflow_rss.tree_bytes) if airflow_rss else None,
        "airflow_peak_process_rss_mb": _mb(airflow_rss.process_bytes) if airflow_rss else None,
        "lambda_invocations": stats.lambda_invocations(endpoint),
    }
    figures["baselines"] = _baselines(target, names, batch_id, size, say)
    load_s = figures["glue_timings_s"].get("load_s")
    if load_s:
        figures["ingest_load_vs"] = {
            loader: round(load_s / (size.records / timing["records_per_s"]), 2)
            for loader, timing in figures["baselines"].items()
        }
    return figures


def _baselines(target: AwsTarget, names: PipelineNames, batch_id: str, size: Size, say: Any) -> dict[str, Any]:
    """The same items the Glue job wrote, loaded again by plain boto3 loops into a fresh table each."""
    items = baselines.table_items(target, names.table, GSI_KEY, batch_id)
    timings = {}
    for loader, load, count in (
        ("batch_writer", baselines.batch_writer_load, len(items)),
        ("put_item", baselines.put_item_load, min(len(items), PUT_ITEM_SAMPLE)),
    ):
        say(f"baseline: {loader}, {baselines.THREADS} threads, {count} items")
        with baselines.scratch_table(target, names.table, f"{names.table}-bench-{loader.replace('_', '-')}") as t:
            timing = load(target, t, items[:count])
        timings[loader] = {"items": timing.items, "seconds": round(timing.seconds, 2)}
        timings[loader]["records_per_s"] = round(timing.per_second)
    return timings


def write_json(figures: dict[str, Any], results: Path) -> Path:
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"bench-{datetime.now().strftime('%Y%m%dT%H%M%S')}.json"
    text = json.dumps(figures, indent=2, sort_keys=True) + "\n"
    path.write_text(text)
    (results / "latest.json").write_text(text)
    return path
