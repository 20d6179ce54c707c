"""``make bench``: the pipeline on the local AWS at 10,000 and BENCH_RECORDS records, with baselines.

Prints a table and writes every figure as JSON under bench/results/ (``latest.json`` too).
Nothing here is a test: figures are for comparing runs on one machine, as ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from bench.run import STAGES, Size, measure, write_json
from employee_pipeline.layout import MAX_RECORDS_PER_SHARD
from local_aws import server
from local_run import ROOT
from local_run.stage import LocalStage

STAGE = "bench"
# The fewest, largest shards the DAG accepts (100,000 records = 20 shards): the load, not the fan-out, is measured.
RECORDS_PER_SHARD = MAX_RECORDS_PER_SHARD
RESULTS = ROOT / "bench" / "results"
GROWTH_FROM = 10_000
FIRST_HOUR = datetime(2026, 1, 1, tzinfo=UTC)  # each measured size loads its own, never-loaded hour


def say(message: str) -> None:
    print(message, flush=True)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def growth(small: dict[str, Any], large: dict[str, Any]) -> dict[str, Any]:
    """How time and peak memory grow from the small run to the large one."""
    return {
        "records_ratio": _ratio(large["records"], small["records"]),
        "run_wall_ratio": _ratio(large["run_wall_s"], small["run_wall_s"]),
        "ingest_ratio": _ratio(large["stages_s"].get("ingest"), small["stages_s"].get("ingest")),
        "glue_load_ratio": _ratio(large["glue_timings_s"].get("load_s"), small["glue_timings_s"].get("load_s")),
        "glue_peak_rss_ratio": _ratio(large["glue_peak_tree_rss_mb"], small["glue_peak_tree_rss_mb"]),
        "airflow_peak_rss_ratio": _ratio(large["airflow_peak_tree_rss_mb"], small["airflow_peak_tree_rss_mb"]),
    }


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def table(result: dict[str, Any]) -> str:
    """The results as the README's Performance section shows them."""
    runs = result["runs"]
    header = "| | " + " | ".join(f"{r['records']:,} records" for r in runs) + " |"
    lines = [header, "|---" * (len(runs) + 1) + "|"]

    def row(label: str, value: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(str(value(r)) for r in runs) + " |")

    row("whole run (s)", lambda r: r["run_wall_s"])

    def stage_cell(figures: dict[str, Any], stage: str) -> str:
        seconds, rate = figures["stages_s"].get(stage), figures["stages_records_per_s"].get(stage)
        return "-" if seconds is None else f"{seconds} ({rate:,})" if rate else f"{seconds}"

    for stage in STAGES:
        row(f"{stage} (s, records/s)", lambda r, s=stage: stage_cell(r, s))
    row("Glue load step (s)", lambda r: r["glue_timings_s"].get("load_s", "-"))
    row("batch_writer baseline (s)", lambda r: r["baselines"]["batch_writer"]["seconds"])
    row("Glue load / batch_writer", lambda r: r.get("ingest_load_vs", {}).get("batch_writer", "-"))
    row(
        "put_item baseline (records/s)",
        lambda r: f"{r['baselines']['put_item']['records_per_s']:,}",
    )
    row("Glue load / put_item", lambda r: r.get("ingest_load_vs", {}).get("put_item", "-"))
    row("DynamoDB write requests / 1k records", lambda r: r["dynamodb_write_requests_per_1k_records"])
    row("S3 requests", lambda r: r["s3_requests"])
    row("XCom row max / total (bytes)", lambda r: f"{r['xcom_row_max_bytes']} / {r['xcom_total_bytes']:,}")
    row("task log total (bytes)", lambda r: f"{r['task_log_total_bytes']:,}")
    row("Glue peak RSS (MB)", lambda r: r["glue_peak_tree_rss_mb"])
    row("Airflow task process peak RSS (MB)", lambda r: r["airflow_peak_tree_rss_mb"])
    out = ["\n".join(lines)]
    if result.get("growth"):
        g = result["growth"]
        out.append(
            f"growth x{g['records_ratio']} records: whole run x{g['run_wall_ratio']}, ingest x{g['ingest_ratio']}, "
            f"Glue load x{g['glue_load_ratio']}; peak RSS Glue x{g['glue_peak_rss_ratio']}, "
            f"Airflow x{g['airflow_peak_rss_ratio']}"
        )
    p = result.get("parse_time")
    if p:
        out.append(
            f"DAG parse: {p['dag_s']:.3f}s; minimal DAG of the same provider operators {p['minimal_s']:.3f}s "
            f"(x{p['ratio']}), the same with one @task {p['minimal_taskflow_s']:.3f}s (x{p['ratio_to_taskflow']})"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=int(os.environ.get("BENCH_RECORDS", "100000")))
    parser.add_argument("--records-per-shard", type=int, default=RECORDS_PER_SHARD)
    parser.add_argument(
        "--growth-from", type=int, default=GROWTH_FROM, help="also run this size first (0: only --records)"
    )
    parser.add_argument("--port", type=int, default=server.DEFAULT_PORT)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-parse-time", action="store_true", help="skip the DAG parse-time comparison")
    args = parser.parse_args(argv)
    sizes = [Size(n, min(args.records_per_shard, n)) for n in (args.growth_from, args.records) if n > 0]
    if args.growth_from >= args.records:
        sizes = sizes[-1:]
    started = time.perf_counter()
    result: dict[str, Any] = {"machine": machine(), "runs": []}
    if not args.no_parse_time:
        from bench import parse_time

        say("DAG parse time, against a minimal DAG of the same provider operators")
        result["parse_time"] = parse_time.measure()

    scratch = ROOT / ".demo" if (ROOT / ".demo").is_dir() else None
    try:
        with LocalStage(STAGE, port=args.port, scratch=scratch, migrate=True, progress=say) as stage:
            for index, size in enumerate(sizes):
                result["runs"].append(measure(stage, FIRST_HOUR + timedelta(hours=index), size, say))
    except server.LocalAwsError as err:
        say(f"error: {err}")
        return 1
    if len(result["runs"]) == 2:
        result["growth"] = growth(*result["runs"])
    result["bench_wall_s"] = round(time.perf_counter() - started, 1)
    path = write_json(result, args.results)
    say("")
    say(table(result))
    say(f"\nwritten to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
