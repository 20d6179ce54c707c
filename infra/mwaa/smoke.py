"""``python -m infra mwaa smoke``: one small DAG run on an MWAA environment, through MWAA's ``InvokeRestApi``.

The run loads one shard of ``SMOKE_CONF["records_per_shard"]`` records for ``SMOKE_HOUR``, an hour
before the DAG's ``start_date``: no scheduled run or backfill reaches it, so a smoke run never
replaces an hour of real data, and each smoke run replaces the previous one's batch (reruns replace
a batch). It is a manual run without a logical date (``run_after`` names the hour), so it never
collides with a run the scheduler made. The check is the DAG's own promise: the run succeeds and
DynamoDB holds exactly the records it generated, none quarantined.

The caller needs ``airflow:InvokeRestApi`` on the environment (MWAA maps it to Airflow's Admin role
unless an ``airflow:…`` role condition narrows it), ``dynamodb:Query``/``s3:GetObject`` on the
stage's table and data bucket, to count the batch, and ``logs:FilterLogEvents`` on the environment's
task log group, to quote a failed task's error. ``InvokeRestApi`` takes a path of at most 64
characters, so run ids are short (``smoke-YYmmddHHMMSS``) and task instances are listed by run id
pattern rather than by their own (longer) path.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from employee_pipeline import layout
from employee_pipeline.config import DAG_ID, PipelineNames
from employee_pipeline.waiting import wait_until
from infra.batch_state import batch_counts, read_manifest
from infra.mwaa.environment import log_group
from infra.mwaa.publish import PublishError, environment_of
from infra.session import AwsTarget

SMOKE_HOUR = datetime(2000, 1, 1, tzinfo=UTC)  # before the DAG's start_date (2026-01-01)
SMOKE_CONF = {"shards": 1, "records_per_shard": 10}
RUN_ID_PREFIX = "smoke-"
PATH_MAX = 64  # InvokeRestApi's Path: 1-64 characters (MWAA API reference)
RUN_TIMEOUT_S = 1800
DAG_PARSE_TIMEOUT_S = 600  # after an update, the DAG processor may not have parsed the DAG yet
POLL_S = 15.0
ENDED = ("success", "failed")
FAILED_TASK_STATES = ("failed", "upstream_failed")
LOG_EVENTS_READ = 10_000  # of one task's log: a failed task's last error is near its end


class SmokeError(PublishError):
    """The smoke run could not start, failed, or left a batch that is not exact; the message says which."""


@dataclass
class SmokeResult:
    environment: str
    dag_run_id: str = ""
    batch_id: str = layout.batch_id_for(SMOKE_HOUR)
    state: str = ""
    seconds: float = 0.0
    expected: int = SMOKE_CONF["shards"] * SMOKE_CONF["records_per_shard"]
    counts: dict[int, int] = field(default_factory=dict)  # DynamoDB items per shard
    quarantined: int | None = None
    tasks: dict[str, str] = field(default_factory=dict)  # each task instance's state when the run ended
    failed_tasks: list[str] = field(default_factory=list)
    unpaused: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "counts": {str(shard): n for shard, n in self.counts.items()}}


def invoke(
    mwaa: Any, environment: str, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None
) -> Any:
    """Airflow's answer to ``method path`` through InvokeRestApi; an Airflow 4xx/5xx is a SmokeError naming it."""
    if len(path) > PATH_MAX:  # a programming error: AWS would refuse the request
        raise ValueError(f"InvokeRestApi path {path!r} is longer than {PATH_MAX} characters")
    extra: dict[str, Any] = {}
    if query:
        extra["QueryParameters"] = query
    if body is not None:
        extra["Body"] = body
    try:
        answer = mwaa.invoke_rest_api(Name=environment, Path=path, Method=method, **extra)
    except (mwaa.exceptions.RestApiClientException, mwaa.exceptions.RestApiServerException) as err:
        status = err.response.get("RestApiStatusCode", err.response["ResponseMetadata"].get("HTTPStatusCode"))
        detail = err.response.get("RestApiResponse") or err.response["Error"].get("Message")
        raise SmokeError(f"{method} {path} on {environment}: Airflow answered {status}: {detail}") from err
    return answer["RestApiResponse"]


def _dag(mwaa: Any, environment: str, timeout_s: float, poll_s: float, say: Callable[[str], None]) -> dict[str, Any]:
    """The DAG as Airflow's API shows it, once parsed; an import error of the DAG's file fails at once."""
    started = time.monotonic()

    def parsed() -> dict[str, Any] | None:
        try:
            return invoke(mwaa, environment, "GET", f"/dags/{DAG_ID}")
        except SmokeError as err:
            if ": Airflow answered 404" not in str(err):
                raise
        errors = invoke(mwaa, environment, "GET", "/importErrors").get("import_errors", [])
        if errors:
            found = "; ".join(f"{e.get('filename')}: {str(e.get('stack_trace', '')).strip()[-400:]}" for e in errors)
            raise SmokeError(f"DAG {DAG_ID} is not on {environment}: import errors: {found}")
        say(f"  waiting for {environment} to parse {DAG_ID} ({time.monotonic() - started:.0f}s)")
        return None

    return wait_until(
        parsed,
        timeout=timeout_s,
        interval=poll_s,
        message=f"DAG {DAG_ID} is not on {environment} (no import error either)",
        error=SmokeError,
    )


def _task_states(mwaa: Any, environment: str, run_id: str) -> dict[str, str]:
    listed = invoke(
        mwaa, environment, "GET", f"/dags/{DAG_ID}/dagRuns/~/taskInstances", query={"run_id_pattern": run_id}
    )
    return {
        ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else ""): str(
            ti.get("state") or "no state"
        )
        for ti in listed.get("task_instances", [])
        if ti.get("dag_run_id") == run_id
    }


def _task_error(target: AwsTarget, environment: str, run_id: str, task: str) -> str:
    """The last error of ``task``'s log in CloudWatch Logs, where MWAA ships task logs; else where to look."""
    group = log_group(environment, "TaskLogs")
    where = f"its log: the UI, or CloudWatch log group {group}"
    if task.endswith("]"):  # a mapped instance: its log stream has no map index in the prefix below
        task = task[: task.index("[")]
    prefix = f"dag_id={DAG_ID}/run_id={run_id}/task_id={task}/"
    try:
        pages = (
            target.client("logs")
            .get_paginator("filter_log_events")
            .paginate(logGroupName=group, logStreamNamePrefix=prefix, PaginationConfig={"MaxItems": LOG_EVENTS_READ})
        )
        errors = [line for page in pages for event in page["events"] if (line := error_line(event["message"]))]
    except ClientError:
        return where
    return errors[-1][:500] if errors else where


def error_line(message: str) -> str | None:
    """The error a task log line reports, or None. Airflow 3 writes JSON lines (``level``, ``event`` and, for
    an exception, ``error_detail`` with its type and value); earlier lines are ``... ERROR - text``."""
    try:
        record = json.loads(message)
    except ValueError:
        record = None
    if isinstance(record, dict):
        if str(record.get("level", "")).lower() not in ("error", "critical"):
            return None
        details = record.get("error_detail")
        if isinstance(details, list) and details and isinstance(details[-1], dict):
            return f"{details[-1].get('exc_type')}: {details[-1].get('exc_value')}"
        return str(record.get("event", "")).strip() or None
    lines = [line.strip() for line in message.splitlines() if re.search(r"\bERROR\b|Error\b|Exception\b", line)]
    return lines[-1] if lines else None


def _check_batch(target: AwsTarget, names: PipelineNames, result: SmokeResult) -> None:
    """Fill in the batch's counts; a SmokeError unless DynamoDB holds exactly what the run generated."""
    result.counts = batch_counts(target, names, result.batch_id, SMOKE_CONF["shards"])
    manifest = read_manifest(target, names, result.batch_id)
    result.quarantined = None if manifest is None else manifest.quarantined
    wanted = {shard: SMOKE_CONF["records_per_shard"] for shard in range(SMOKE_CONF["shards"])}
    if result.counts != wanted or result.quarantined != 0:
        raise SmokeError(
            f"smoke run {result.dag_run_id} succeeded but batch {result.batch_id} is not exact: DynamoDB holds "
            f"{result.counts} items per shard (wanted {wanted}), manifest quarantined {result.quarantined}"
        )


def smoke(
    target: AwsTarget,
    names: PipelineNames,
    environment: str,
    *,
    unpause: bool = False,
    say: Callable[[str], None] = print,
    timeout_s: float = RUN_TIMEOUT_S,
    poll_s: float = POLL_S,
    run_id: str | None = None,
) -> SmokeResult:
    """One smoke run of the DAG on ``environment``; its result, or a SmokeError saying what failed.

    ``run_id``: the new run's id (default ``smoke-`` and the time, short enough for InvokeRestApi's paths).
    """
    mwaa = target.client("mwaa")
    status = environment_of(mwaa, environment)["Status"]
    if status != "AVAILABLE":
        raise SmokeError(f"MWAA environment {environment} is {status}, not AVAILABLE: no smoke run")
    result = SmokeResult(environment=environment)
    if _dag(mwaa, environment, DAG_PARSE_TIMEOUT_S, poll_s, say)["is_paused"]:
        if not unpause:
            raise SmokeError(
                f"DAG {DAG_ID} is paused on {environment} (MWAA creates DAGs paused): a paused DAG's runs never "
                "start. Unpause it in the UI, or pass --unpause (its hourly schedule starts)"
            )
        invoke(mwaa, environment, "PATCH", f"/dags/{DAG_ID}", body={"is_paused": False})
        result.unpaused = True
        say(f"  unpaused {DAG_ID}: its hourly schedule runs from now on")

    result.dag_run_id = run_id or f"{RUN_ID_PREFIX}{datetime.now(UTC):%y%m%d%H%M%S}"
    run_path = f"/dags/{DAG_ID}/dagRuns/{result.dag_run_id}"
    invoke(
        mwaa,
        environment,
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        body={
            "dag_run_id": result.dag_run_id,
            "logical_date": None,
            "run_after": (SMOKE_HOUR + timedelta(minutes=30)).isoformat(),
            "conf": SMOKE_CONF,
            "note": "python -m infra mwaa smoke",
        },
    )
    say(f"  started {result.dag_run_id}: batch {result.batch_id}, {SMOKE_CONF}")
    started, shown = time.monotonic(), [""]

    def ended() -> str | None:
        state = invoke(mwaa, environment, "GET", run_path)["state"]
        if state in ENDED:
            return state
        tasks = _task_states(mwaa, environment, result.dag_run_id)
        tally = ", ".join(f"{n} {s}" for s, n in sorted(Counter(tasks.values()).items()))
        if f"{state} {tally}" != shown[0]:
            shown[0] = f"{state} {tally}"
            say(f"  {result.dag_run_id}: {state} ({time.monotonic() - started:.0f}s) tasks: {tally or 'none yet'}")
        return None

    state = wait_until(
        ended,
        timeout=timeout_s,
        interval=poll_s,
        message=f"smoke run {result.dag_run_id} has not ended",
        error=SmokeError,
    )
    result.state, result.seconds = state, time.monotonic() - started
    result.tasks = tasks = _task_states(mwaa, environment, result.dag_run_id)
    if state != "success":
        result.failed_tasks = sorted(task for task, s in tasks.items() if s in FAILED_TASK_STATES)
        errors = [
            f"{task}: "
            + (_task_error(target, environment, result.dag_run_id, task) if tasks[task] == "failed" else tasks[task])
            for task in result.failed_tasks
        ]
        raise SmokeError(
            f"smoke run {result.dag_run_id} on {environment} failed after {result.seconds:.0f}s; failed tasks: "
            + ("; ".join(errors) or "(none recorded)")
        )
    try:
        _check_batch(target, names, result)
    except ClientError as err:
        raise SmokeError(f"cannot count batch {result.batch_id} of stage '{names.stage}': {err}") from err
    return result
