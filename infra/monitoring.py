"""The stage's CloudWatch alarms and dashboard, over the metrics each batch publishes (config.METRIC_*).

Alarms notify the stage's SNS topic when they go to ALARM. No OK actions: the topic carries what needs
someone and a run that succeeds says nothing; the dashboard shows recoveries. PutMetricAlarm and
PutDashboard replace the whole definition, so ensure compares what CloudWatch holds with the spec and puts
it only when they differ (a plan only compares).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from employee_pipeline import config
from employee_pipeline.config import PipelineNames
from infra import tagging
from infra.actions import ABSENT, DELETED, Action, Kind, outcome
from infra.session import AwsTarget, if_exists

HOUR_S = 3600
# Without a loaded batch for this many hourly periods, the no-loaded-batch alarm goes off.
NO_BATCH_PERIODS = 2
# The fields of a DescribeAlarms answer the spec sets, compared on ensure.
_COMPARED = (
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)


@dataclass(frozen=True)
class Alarm:
    """A metric alarm on one of the stage's metrics; ``topic`` names the topic resource it notifies."""

    name: str
    stage: str
    topic: str
    metric: str
    statistic: str
    comparison: str
    threshold: float
    treat_missing_data: str
    description: str
    tags: Mapping[str, str]
    evaluation_periods: int = 1
    period: int = HOUR_S
    kind: ClassVar[Kind] = Kind.CLOUDWATCH_ALARM
    owned: ClassVar[bool] = True

    def definition(self, topic_arn: str) -> dict[str, Any]:
        """PutMetricAlarm's parameters (without the tags, which CloudWatch sets only on creation)."""
        return {
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "ActionsEnabled": True,
            "AlarmActions": [topic_arn],
            "OKActions": [],
            "Namespace": config.METRICS_NAMESPACE,
            "MetricName": self.metric,
            "Dimensions": [{"Name": config.METRIC_DIMENSION, "Value": self.stage}],
            "Statistic": self.statistic,
            "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.evaluation_periods,
            "Threshold": float(self.threshold),
            "ComparisonOperator": self.comparison,
            "TreatMissingData": self.treat_missing_data,
        }

    def ensure(self, target: AwsTarget, arns: Mapping[str, str], *, apply: bool) -> tuple[Action, str | None]:
        wanted = self.definition(arns[self.topic])
        current = self.describe(target)
        changes = [] if current is None else [key for key in _COMPARED if current.get(key) != wanted[key]]
        if apply and (current is None or changes):
            target.client("cloudwatch").put_metric_alarm(**wanted, Tags=tagging.as_list(dict(self.tags)))
        return outcome(self.kind, self.name, current is not None, changes), target.arn(
            "cloudwatch", f"alarm:{self.name}"
        )

    def describe(self, target: AwsTarget) -> dict[str, Any] | None:
        found = target.client("cloudwatch").describe_alarms(AlarmNames=[self.name], AlarmTypes=["MetricAlarm"])
        return next(iter(found["MetricAlarms"]), None)

    def destroy(self, target: AwsTarget) -> Action:
        if self.describe(target) is None:
            return Action(self.kind, self.name, ABSENT)
        target.client("cloudwatch").delete_alarms(AlarmNames=[self.name])
        return Action(self.kind, self.name, DELETED)

    def exists(self, target: AwsTarget) -> bool:
        return self.describe(target) is not None

    def state(self, target: AwsTarget) -> str | None:
        """The alarm's state (OK, ALARM, INSUFFICIENT_DATA): what ``status`` shows; None if it does not exist."""
        current = self.describe(target)
        return None if current is None else current["StateValue"]


@dataclass(frozen=True)
class Dashboard:
    """The stage's dashboard: its metrics per hour and its alarms' states."""

    name: str
    names: PipelineNames
    kind: ClassVar[Kind] = Kind.CLOUDWATCH_DASHBOARD
    owned: ClassVar[bool] = True

    def body(self, target: AwsTarget) -> dict[str, Any]:
        return dashboard_body(self.names, target)

    def _current(self, target: AwsTarget) -> dict[str, Any] | None:
        found = if_exists(
            lambda: target.client("cloudwatch").get_dashboard(DashboardName=self.name),
            ("ResourceNotFound", "ResourceNotFoundException"),
        )
        return None if found is None else json.loads(found["DashboardBody"])

    def ensure(self, target: AwsTarget, arns: Mapping[str, str], *, apply: bool) -> tuple[Action, str | None]:
        wanted, current = self.body(target), self._current(target)
        changes = [] if current is None or current == wanted else ["widgets"]
        if apply and (current is None or changes):
            target.client("cloudwatch").put_dashboard(DashboardName=self.name, DashboardBody=json.dumps(wanted))
        arn = target.arn("cloudwatch", f"dashboard/{self.name}", region=False)
        return outcome(self.kind, self.name, current is not None, changes), arn

    def destroy(self, target: AwsTarget) -> Action:
        if self._current(target) is None:
            return Action(self.kind, self.name, ABSENT)
        target.client("cloudwatch").delete_dashboards(DashboardNames=[self.name])
        return Action(self.kind, self.name, DELETED)

    def exists(self, target: AwsTarget) -> bool:
        return self._current(target) is not None


def console_url(region: str, dashboard: str) -> str:
    """Where the dashboard opens in the AWS console."""
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{dashboard}"


def _metric_widget(title: str, stage: str, region: str, metrics: list[tuple[str, str]], y: int, x: int) -> dict:
    """A graph of ``metrics`` ((metric name, statistic) pairs), per hour."""
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "period": HOUR_S,
            "metrics": [
                [config.METRICS_NAMESPACE, name, config.METRIC_DIMENSION, stage, {"stat": stat}]
                for name, stat in metrics
            ],
        },
    }


def dashboard_body(names: PipelineNames, target: AwsTarget) -> dict[str, Any]:
    stage, region = names.stage, target.region_name
    graphs = [
        (
            "Rows per batch",
            [
                (config.METRIC_ROWS_READ, "Sum"),
                (config.METRIC_ROWS_LOADED, "Sum"),
                (config.METRIC_ROWS_QUARANTINED, "Sum"),
            ],
        ),
        ("Quarantined share (max per hour)", [(config.METRIC_QUARANTINED_FRACTION, "Maximum")]),
        (
            "Batches loaded and failed tasks",
            [(config.METRIC_BATCHES_LOADED, "Sum"), (config.METRIC_FAILED_RUNS, "Sum")],
        ),
        (
            "End of the hour to passed count check (s)",
            [(config.METRIC_LATENCY_SECONDS, "Maximum"), (config.METRIC_LATENCY_SECONDS, "Average")],
        ),
        ("Glue load (s)", [(config.METRIC_GLUE_LOAD_SECONDS, "Maximum"), (config.METRIC_GLUE_LOAD_SECONDS, "Average")]),
        ("DynamoDB retries", [(config.METRIC_DYNAMODB_RETRIES, "Sum")]),
    ]
    alarms = [target.arn("cloudwatch", f"alarm:{a}") for a in alarm_names(names)]
    widgets: list[dict[str, Any]] = [
        {
            "type": "alarm",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 2,
            "properties": {"title": "Alarms", "alarms": alarms},
        }
    ]
    for index, (title, metrics) in enumerate(graphs):
        widgets.append(_metric_widget(title, stage, region, metrics, 2 + 6 * (index // 2), 12 * (index % 2)))
    return {"widgets": widgets}


def alarm_names(names: PipelineNames) -> tuple[str, str, str]:
    return names.quarantine_alarm, names.no_batch_alarm, names.failed_runs_alarm


def stage_monitoring(names: PipelineNames, tags: Mapping[str, str]) -> tuple[Alarm | Dashboard, ...]:
    """The stage's alarms (each notifying ``names.alerts_topic``, walked before them) and its dashboard."""
    stage, topic = names.stage, names.alerts_topic
    tolerance = config.DEFAULT_MAX_QUARANTINE_FRACTION
    return (
        Alarm(
            names.quarantine_alarm,
            stage,
            topic,
            config.METRIC_QUARANTINED_FRACTION,
            "Maximum",
            "GreaterThanThreshold",
            tolerance,
            "notBreaching",
            f"A batch of stage {stage} quarantined more than {tolerance:.0%} of its rows (the DAG's default "
            "max_quarantine_fraction): see the quarantine/ objects of its batch.",
            tags,
        ),
        Alarm(
            names.no_batch_alarm,
            stage,
            topic,
            config.METRIC_BATCHES_LOADED,
            "Sum",
            "LessThanThreshold",
            1,
            "breaching",
            f"No batch of stage {stage} passed its checks for {NO_BATCH_PERIODS} hours: check the DAG's runs.",
            tags,
            evaluation_periods=NO_BATCH_PERIODS,
        ),
        Alarm(
            names.failed_runs_alarm,
            stage,
            topic,
            config.METRIC_FAILED_RUNS,
            "Sum",
            "GreaterThanOrEqualToThreshold",
            1,
            "notBreaching",
            f"A task of stage {stage} failed for good: the SNS failure alert names it and its log.",
            tags,
        ),
        Dashboard(names.dashboard, names),
    )
