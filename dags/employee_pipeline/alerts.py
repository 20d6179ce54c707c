"""Failure alerts: a task's final failure is published to the stage's SNS topic."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from employee_pipeline import config

log = logging.getLogger(__name__)
# The DAG's schedule (@hourly): a run's data interval, from its logical date, is one hour.
HOURLY_DATA_INTERVAL = timedelta(hours=1)


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
    """``on_failure_callback``: publish dag, task, run, try, exception and log URL to SNS, and count the
    failure in CloudWatch (``METRIC_FAILED_RUNS``, which the stage's failed-runs alarm watches).

    Each is tried on its own and a failing one is logged, never raised: neither hides the other, nor the
    task's own error.
    """
    message = failure_message(context)
    try:
        names = config.names_from_variables()
    except Exception:
        log.exception("Could not read the stage's names: no failure alert for %s", message)
        return
    _publish_to_sns(names, message)
    _count_failure(names)


def _publish_to_sns(names: config.PipelineNames, message: dict[str, Any]) -> None:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    try:
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


def _count_failure(names: config.PipelineNames) -> None:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    try:
        cloudwatch = AwsBaseHook(aws_conn_id=config.AWS_CONN_ID, client_type="cloudwatch").conn
        cloudwatch.put_metric_data(
            Namespace=config.METRICS_NAMESPACE,
            MetricData=[
                {
                    "MetricName": config.METRIC_FAILED_RUNS,
                    "Dimensions": [{"Name": config.METRIC_DIMENSION, "Value": names.stage}],
                    "Value": 1,
                    "Unit": "Count",
                }
            ],
        )
        log.info("Failure counted in %s/%s", config.METRICS_NAMESPACE, config.METRIC_FAILED_RUNS)
    except Exception:
        log.exception("Could not count the failure in CloudWatch")


def freshness_deadline(minutes: int) -> Any:
    """The DAG's ``deadline=``: a run unfinished ``minutes`` after its hour ended alerts the stage's SNS topic once
    (``employee_pipeline_ops.freshness``). Pure, for parse time: it only hands over what the triggerer, which
    cannot import this package, needs to name the topic and the batch at run time."""
    from employee_pipeline import layout
    from employee_pipeline_ops.freshness import deadline_alert

    sample = config.pipeline_names(stage="stage", prefix="prefix")
    return deadline_alert(
        minutes,
        HOURLY_DATA_INTERVAL,
        batch_id_format=layout.BATCH_ID_FORMAT,
        stage_variable=config.STAGE_VARIABLE,
        prefix_variable=config.PREFIX_VARIABLE,
        default_stage=config.DEFAULT_STAGE,
        default_prefix=config.DEFAULT_PREFIX,
        # {prefix}-{stage} where pipeline_names puts the stage's base name: the topic's name, to fill in.
        topic_template=sample.alerts_topic.replace(sample.mwaa_environment, "{prefix}-{stage}"),
        aws_conn_id=config.AWS_CONN_ID,
    )
