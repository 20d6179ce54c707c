"""``make demo``: local AWS up, stage ``local`` deployed, one hourly DAG run, a summary.

The last line printed is one JSON object:
``{batch_id, generated, s3_objects, quarantined, dynamodb_count, status}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from employee_pipeline import config, layout
from employee_pipeline.config import DEFAULT_RECORDS_PER_SHARD, DEFAULT_SHARDS, PipelineNames, pipeline_names
from infra.batch_state import batch_counts, published_metrics, read_manifest
from infra.monitoring import Alarm, console_url, stage_monitoring
from infra.session import AwsTarget
from local_aws import server, stats
from local_aws.iam_gate import SWITCH as IAM_SWITCH
from local_run import ROOT
from local_run.airflow_env import LOCAL_STAGE
from local_run.stage import LocalStage

DEMO_DIR = ROOT / ".demo"
AUDIT_FILE = DEMO_DIR / "iam-audit.json"  # every IAM decision of the run, as GET /_local/iam-audit gives it


def say(message: str) -> None:
    print(message, flush=True)


def last_complete_hour(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def summarize(target: AwsTarget, batch_id: str, shards: int, generated: int, dag_ok: bool) -> dict[str, Any]:
    """Read the outcome back from AWS: objects, manifest, DynamoDB count."""
    names = pipeline_names(LOCAL_STAGE)
    listing = target.client("s3").list_objects_v2(Bucket=names.data_bucket, Prefix=layout.raw_prefix(batch_id))
    manifest = read_manifest(target, names, batch_id)
    counted = sum(batch_counts(target, names, batch_id, shards).values())
    quarantined = manifest.quarantined if manifest else None
    ok = dag_ok and quarantined is not None and counted == generated - quarantined
    return {
        "batch_id": batch_id,
        "generated": generated,
        "s3_objects": listing.get("KeyCount", 0),
        "quarantined": quarantined,
        "dynamodb_count": counted,
        "status": "success" if ok else "failed",
    }


def metrics_lines(target: AwsTarget, names: PipelineNames) -> list[str]:
    """Where an operator sees the batch metrics: what this run published, the alarms' states, the dashboard,
    the CLI on AWS."""
    where = f"namespace {config.METRICS_NAMESPACE}, dimension {config.METRIC_DIMENSION}={names.stage}"
    published = published_metrics(target, names.stage)
    values = ", ".join(f"{name}={value['Sum']:g}" for name, value in published.items()) or "none published"
    alarms = [spec for spec in stage_monitoring(names, {}) if isinstance(spec, Alarm)]
    region = target.region_name
    return [
        f"metrics        : {where}: {values}",
        f"alarms         : {', '.join(f'{alarm.name} {alarm.state(target)}' for alarm in alarms)}",
        f"dashboard      : {names.dashboard} ({console_url(region, names.dashboard)} on AWS)",
        f"  on AWS       : aws cloudwatch get-metric-statistics --namespace {config.METRICS_NAMESPACE} "
        f"--metric-name {config.METRIC_ROWS_LOADED} --dimensions Name={config.METRIC_DIMENSION},Value=<stage> "
        "--statistics Sum --period 3600 --start-time <from> --end-time <to>",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_run.demo", description=__doc__.splitlines()[0])
    # The DAG's Param defaults.
    parser.add_argument("--shards", type=int, default=DEFAULT_SHARDS)
    parser.add_argument("--records-per-shard", type=int, default=DEFAULT_RECORDS_PER_SHARD)
    parser.add_argument("--port", type=int, default=server.DEFAULT_PORT)
    parser.add_argument("--keep-airflow-home", action="store_true", help="keep the run's AIRFLOW_HOME for inspection")
    args = parser.parse_args(argv)
    started = time.monotonic()
    hour = last_complete_hour()
    batch_id = layout.batch_id_for(hour)
    generated = args.shards * args.records_per_shard
    DEMO_DIR.mkdir(exist_ok=True)
    log = DEMO_DIR / "airflow.log"
    log.write_text("")
    steps = iter(range(1, 5))

    def step(message: str) -> None:
        say(f"[{next(steps)}/4] {message}")

    try:
        with LocalStage(port=args.port, scratch=DEMO_DIR, keep_home=args.keep_airflow_home, progress=step) as stage:
            for action in stage.actions:
                say(action.line())
            step(f"preparing Airflow (SQLite in {stage.home.relative_to(ROOT)})")
            stage.migrate(log)
            step(
                f"running {args.shards} shards x {args.records_per_shard} records for batch {batch_id} "
                f"(hour {hour:%Y-%m-%d %H}:00 UTC); full log: {log.relative_to(ROOT)}"
            )
            conf = {"shards": args.shards, "records_per_shard": args.records_per_shard}
            result = stage.run_batch(hour, conf, log, progress=say)
            summary = summarize(stage.aws, batch_id, args.shards, generated, result.succeeded)
            metrics = metrics_lines(stage.aws, stage.names)
            audit = stats.iam_audit(stage.endpoint)
            AUDIT_FILE.write_text(json.dumps(audit, indent=1))
    except server.LocalAwsError as err:
        say(f"error: {err}")
        return 1
    say("")
    say(f"DAG run        : {'succeeded' if result.succeeded else f'FAILED (see {log.relative_to(ROOT)})'}")
    say(f"batch          : {summary['batch_id']}")
    say(f"generated      : {summary['generated']}")
    say(f"S3 objects     : {summary['s3_objects']}")
    say(f"quarantined    : {summary['quarantined']}")
    say(f"DynamoDB count : {summary['dynamodb_count']}")
    refused = stats.refusals(audit)
    decided = sum(call["count"] for call in audit["calls"])
    iam = "enforced" if audit["enforced"] else f"NOT enforced ({IAM_SWITCH}=off)"
    say(f"IAM            : {iam}, {decided} calls decided, {len(refused)} refused ({AUDIT_FILE.relative_to(ROOT)})")
    for line in refused:
        say(f"  refused      : {line}")
    for line in metrics:
        say(line)
    say(f"elapsed        : {time.monotonic() - started:.0f}s")
    say(json.dumps(summary))
    return 0 if summary["status"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
