"""Freshness: a Deadline Alert that tells the stage's SNS topic, once, that a run is late.

The deadline is the end of the run's hour plus the configured minutes: the run's logical date (the start
of its data interval, on the hourly schedule) plus the interval and the minutes
(``DeadlineReference.DAGRUN_LOGICAL_DATE``). A scheduled run that has not finished 30 minutes after its
hour ended alerts; so does each run of a backfill of past hours, whose data is late by definition, once.
A run without a logical date (a REST run with ``logical_date: null``) gets no deadline: Airflow has no
date to count from. ``DAGRUN_QUEUED_AT`` would give it one, but clearing any run of a DAG with a queued-at
deadline fails in Airflow 3.3.1 (HTTP 500 from ``clearTaskInstances``: apache/airflow#70368), and clearing
is how a failed hour is rerun.

Airflow records a missed deadline once and hands this module's coroutine to the triggerer, where only
plugins/ is importable: what the DAG's package knows (Variable names, the topic's name, the batch id's
format) comes in the callback's kwargs, written by the DAG file at parse time. Airflow prunes a run's
deadline only when the run succeeds in time; a run that *failed* in time keeps its deadline, so the
callback itself drops any run that ended before its deadline.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

log = logging.getLogger(__name__)

ALERT_NAME = "freshness"


def deadline_alert(minutes: int, data_interval: timedelta, **settings: str) -> DeadlineAlert:
    """The DAG's ``deadline=``: ``minutes`` after a run's ``data_interval`` (which starts at its logical date)
    ended; ``settings`` are :func:`alert_late_run`'s keyword arguments (Variable names and defaults, topic
    template, batch format)."""
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=data_interval + timedelta(minutes=minutes),
        callback=AsyncCallback(alert_late_run, kwargs={"deadline_minutes": minutes, **settings}),
        name=ALERT_NAME,
    )


def _time(value: Any) -> datetime | None:
    """A context timestamp: a datetime, or the ISO text of the run's JSON."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def late_run_message(
    context: dict[str, Any], *, deadline_minutes: int, batch_id_format: str, now: datetime
) -> dict[str, Any] | None:
    """What the alert says about the context's run, or None when the run ended before its deadline."""
    run, deadline = context["dag_run"], _time(context["deadline"]["deadline_time"])
    assert deadline is not None
    ended = _time(run.get("end_date"))
    if ended is not None and ended <= deadline:
        return None  # finished in time (failed runs keep their deadline: Airflow prunes on success only)
    # The batch is the data interval's hour (a run without a logical date has no deadline).
    hour = _time(run.get("data_interval_start")) or _time(run["run_after"])
    assert hour is not None
    queued = _time(run.get("queued_at"))
    return {
        "alert": "late_run",
        "dag_id": run["dag_id"],
        "run_id": run["dag_run_id"],
        "run_type": run.get("run_type"),
        "state": run.get("state"),
        "batch_id": hour.astimezone(UTC).strftime(batch_id_format),
        "queued_at": queued.isoformat() if queued else None,
        "deadline": deadline.isoformat(),
        "deadline_minutes": deadline_minutes,
        "late_by_seconds": max(0, round((now - deadline).total_seconds())),
        "unfinished_for_seconds": round((now - queued).total_seconds()) if queued else None,
    }


def alert_subject(stage: str, message: dict[str, Any]) -> str:
    late = message["late_by_seconds"] // 60 + message["deadline_minutes"]  # minutes since the hour ended
    subject = f"[{stage}] {message['dag_id']} batch {message['batch_id']} late: unfinished {late} min after its hour"
    return subject[:100]


def _publish(message: dict[str, Any], settings: dict[str, Any]) -> str:
    """Publish ``message`` to the stage's alert topic (blocking: run in a thread); returns the topic ARN.

    The stage and prefix are the Airflow Variables the DAG reads, fetched through the triggerer's
    supervisor like any task's; the account from STS, as the failure alert does.
    """
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.hooks.sns import SnsHook
    from airflow.sdk import Variable

    stage = Variable.get(settings["stage_variable"], default=settings["default_stage"])
    prefix = Variable.get(settings["prefix_variable"], default=settings["default_prefix"])
    topic_name = settings["topic_template"].format(stage=stage, prefix=prefix)
    sns = SnsHook(aws_conn_id=settings["aws_conn_id"])
    account = AwsBaseHook(aws_conn_id=settings["aws_conn_id"], client_type="sts").conn.get_caller_identity()["Account"]
    topic = f"arn:{sns.conn_partition}:sns:{sns.conn_region_name}:{account}:{topic_name}"
    sns.publish_to_target(target_arn=topic, subject=alert_subject(stage, message), message=json.dumps(message))
    return topic


async def alert_late_run(
    context: dict[str, Any],
    *,
    deadline_minutes: int,
    batch_id_format: str,
    stage_variable: str,
    prefix_variable: str,
    default_stage: str,
    default_prefix: str,
    topic_template: str,
    aws_conn_id: str,
) -> str:
    """The Deadline Alert's callback (in the triggerer): one SNS message for a run past its deadline.

    A failure is raised, not swallowed: Airflow records the callback as failed, with the error.
    """
    message = late_run_message(
        context, deadline_minutes=deadline_minutes, batch_id_format=batch_id_format, now=datetime.now(UTC)
    )
    if message is None:
        log.info("Run %s ended before its deadline: no alert", context["dag_run"]["dag_run_id"])
        return "in time"
    settings = {
        "stage_variable": stage_variable,
        "prefix_variable": prefix_variable,
        "default_stage": default_stage,
        "default_prefix": default_prefix,
        "topic_template": topic_template,
        "aws_conn_id": aws_conn_id,
    }
    # The hooks and the Variable lookups block: a thread keeps the triggerer's event loop free.
    topic = await asyncio.to_thread(_publish, message, settings)
    log.info("Late-run alert for %s published to %s", message["run_id"], topic)
    return f"alerted {topic}"
