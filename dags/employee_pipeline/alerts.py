"""Failure alerts: a task's final failure is published to the stage's SNS topic."""

from __future__ import annotations

import json
import logging
from typing import Any

from employee_pipeline import config

log = logging.getLogger(__name__)


def failure_message(context: dict[str, Any]) -> dict[str, Any]:
    ti = context["ti"]
    return {
        "dag_id": ti.dag_id,
        "task_id": ti.task_id,
        "map_index": getattr(ti, "map_index", -1),
        "run_id": ti.run_id,
        "try_number": ti.try_number,
        "exception": repr(context.get("exception")),
        "log_url": getattr(ti, "log_url", None),
    }


def publish_failure_alert(context: dict[str, Any]) -> None:
    """``on_failure_callback``: publish dag, task, run, try, exception and log URL to SNS.

    A failing alert is logged, never raised: it must not hide the task's own error.
    """
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    message = failure_message(context)
    try:
        names = config.names_from_variables()
        sns = SnsHook(aws_conn_id=config.AWS_CONN_ID)
        account = AwsBaseHook(aws_conn_id=config.AWS_CONN_ID, client_type="sts").conn.get_caller_identity()["Account"]
        topic = f"arn:{sns.conn_partition}:sns:{sns.conn_region_name}:{account}:{names.alerts_topic}"
        sns.publish_to_target(
            target_arn=topic,
            subject=f"[{names.stage}] {message['dag_id']}.{message['task_id']} failed"[:100],
            message=json.dumps(message),
        )
        log.info("Failure alert published to %s", topic)
    except Exception:
        log.exception("Could not publish the failure alert %s", message)
