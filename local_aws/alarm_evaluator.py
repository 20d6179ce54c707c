"""CloudWatch metric alarms that change state, as on AWS: moto stores alarms and datapoints but never
evaluates an alarm, so none would ever reach ALARM or notify its SNS topic.

An alarm is evaluated over its last ``EvaluationPeriods`` periods of ``Period`` seconds (aligned to the
epoch, the newest being the one ``now`` falls in): each period's statistic (Sum, Average, Minimum,
Maximum, SampleCount) of the datapoints with exactly the alarm's namespace, metric and dimensions, or
missing. Missing periods count as ``TreatMissingData`` says (breaching, notBreaching; missing and ignore
leave them out; with every period missing, missing gives INSUFFICIENT_DATA and ignore keeps the state).
``DatapointsToAlarm`` (default: every period) breaching ones make ALARM, fewer OK. A new state sets
StateValue, StateReason(Data) and StateUpdatedTimestamp in CloudWatch's words, and publishes the
notification CloudWatch sends to each SNS topic among the state's actions (AlarmActions,
OKActions, InsufficientDataActions), once per transition, as ``cloudwatch.amazonaws.com`` decided
against the topic's policy (``aws:SourceArn`` the alarm, ``aws:SourceAccount`` its account) and, for an
encrypted topic, its key's policy (``sns_kms``). A refused action is logged, as CloudWatch's alarm
history records a failed action; nothing reaches the topic.

Alarms are evaluated after each PutMetricData and PutMetricAlarm (which, as on AWS, leaves an existing
alarm's state alone and starts a new one in INSUFFICIENT_DATA), and every ``INTERVAL_S`` by a thread
of the local AWS server (``start``/``stop``). The clock is injectable: unit tests pass their own.
"""

from __future__ import annotations

import calendar
import functools
import json
import logging
import operator
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

PUT_METRIC_DATA = "moto.cloudwatch.models.CloudWatchBackend.put_metric_data"
PUT_METRIC_ALARM = "moto.cloudwatch.models.CloudWatchBackend.put_metric_alarm"
REPLACED = (PUT_METRIC_DATA, PUT_METRIC_ALARM)
INTERVAL_S = 60.0  # CloudWatch evaluates alarms every minute
ALARM, OK, INSUFFICIENT_DATA = "ALARM", "OK", "INSUFFICIENT_DATA"
SERVICE = "cloudwatch.amazonaws.com"

Clock = Callable[[], datetime]  # naive UTC, as moto stores datapoint and state timestamps
Publish = Callable[[Any, str, str, str], None]  # (alarm, topic ARN, subject, message)

# ComparisonOperator -> (test of value against threshold, its words in a state reason)
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Outcome:
    state: str | None  # None: keep the current state (TreatMissingData ignore, every period missing)
    reason: str
    reason_data: dict[str, Any]


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _samples(datum: Any) -> tuple[float, float, float, float]:
    """(sample count, sum, minimum, maximum) of a value or a statistic set."""
    if hasattr(datum, "value"):
        return 1.0, datum.value, datum.value, datum.value
    return datum.sample_count, datum.sum, datum.min, datum.max


def statistic(name: str, data: list[Any]) -> float:
    samples = [_samples(d) for d in data]
    count, total = sum(s[0] for s in samples), sum(s[1] for s in samples)
    values = {
        "SampleCount": lambda: count,
        "Sum": lambda: total,
        "Average": lambda: total / count,
        "Minimum": lambda: min(s[2] for s in samples),
        "Maximum": lambda: max(s[3] for s in samples),
    }
    if name not in values:
        raise ValueError(f"the local AWS does not evaluate alarms on the statistic {name!r}")
    return float(values[name]())


def _of_alarm(alarm: Any, datum: Any) -> bool:
    """A datapoint of the alarm's metric: same namespace, name and exactly its dimensions (a metric is all three)."""
    return (
        datum.namespace == alarm.namespace
        and datum.name == alarm.metric_name
        and {(d.name, d.value) for d in datum.dimensions} == {(d.name, d.value) for d in alarm.dimensions}
    )


def periods(alarm: Any, data: list[Any], now: datetime) -> list[tuple[datetime, float | None]]:
    """(start, statistic or None when missing) of each evaluated period, oldest first."""
    period = int(alarm.period)
    newest = calendar.timegm(now.utctimetuple()) // period * period
    ours = [d for d in data if _of_alarm(alarm, d)]
    found = []
    for back in range(int(alarm.evaluation_periods) - 1, -1, -1):
        start = datetime.fromtimestamp(newest - back * period, UTC).replace(tzinfo=None)
        end = start + timedelta(seconds=period)
        within = [d for d in ours if start <= _naive_utc(d.timestamp) < end]
        found.append((start, statistic(alarm.statistic, within) if within else None))
    return found


def _point(start: datetime, value: float) -> str:
    return f"{value} ({start:%d/%m/%y %H:%M:%S})"


def evaluate(alarm: Any, data: list[Any], now: datetime) -> Outcome:
    """The state ``alarm`` should be in at ``now`` over ``data`` (moto's datapoints), and why."""
    compare, words = COMPARISONS[alarm.comparison_operator]
    threshold, treat = float(alarm.threshold), alarm.treat_missing_data or "missing"
    evaluated = periods(alarm, data, now)
    needed = int(alarm.datapoints_to_alarm or alarm.evaluation_periods)
    present = [(start, value) for start, value in evaluated if value is not None]
    missing = len(evaluated) - len(present)
    reason_data = {
        "version": "1.0",
        "queryDate": f"{now:%Y-%m-%dT%H:%M:%S.000+0000}",
        "startDate": f"{evaluated[0][0]:%Y-%m-%dT%H:%M:%S.000+0000}",
        "statistic": alarm.statistic,
        "period": int(alarm.period),
        "recentDatapoints": [value for _, value in present],
        "threshold": threshold,
        "evaluatedDatapoints": [
            {"timestamp": f"{start:%Y-%m-%dT%H:%M:%S.000+0000}", "value": value} for start, value in reversed(present)
        ],
    }
    if not present and treat in ("missing", "ignore"):
        if treat == "ignore":
            return Outcome(None, "", reason_data)
        return Outcome(INSUFFICIENT_DATA, f"Insufficient Data: {missing} datapoints were unknown.", reason_data)
    breaching = sum(compare(value, threshold) for _, value in present)
    if treat == "breaching":
        breaching += missing
    counted = len(evaluated) if treat in ("breaching", "notBreaching") else len(present)
    shown = ", ".join(_point(start, value) for start, value in reversed(present))
    if breaching >= needed:
        if not present:
            reason = (
                f"Threshold Crossed: no datapoints were received for {missing} periods and {missing} missing "
                "datapoints were treated as [Breaching]."
            )
        else:
            reason = (
                f"Threshold Crossed: {breaching} out of the last {counted} datapoints [{shown}] was {words} the "
                f"threshold ({threshold}) (minimum {needed} datapoint for OK -> ALARM transition)."
            )
        return Outcome(ALARM, reason, reason_data)
    if not present:
        reason = (
            f"Threshold Crossed: no datapoints were received for {missing} periods and {missing} missing "
            "datapoints were treated as [NonBreaching]."
        )
    else:
        reason = f"Threshold Crossed: {len(present)} datapoint [{shown}] was not {words} the threshold ({threshold})."
    return Outcome(OK, reason, reason_data)


@functools.cache
def _region_name(region: str) -> str:
    """The region as CloudWatch's notification names it: "US East (N. Virginia)"."""
    from botocore.loaders import create_loader

    for partition in create_loader().load_data("endpoints")["partitions"]:
        if region in partition["regions"]:
            return str(partition["regions"][region].get("description", region))
    return region


def _time(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def notification(alarm: Any, old_state: str, account: str) -> dict[str, Any]:
    """The JSON CloudWatch publishes to an alarm's SNS action when the alarm changes state."""
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description or None,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _time(alarm.configuration_updated_timestamp),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": _time(alarm.state_updated_timestamp),
        "Region": _region_name(alarm.region_name),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": {
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "StatisticType": "Statistic",
            "Statistic": str(alarm.statistic).upper(),
            "Unit": alarm.unit,
            "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
            "Period": int(alarm.period),
            "EvaluationPeriods": int(alarm.evaluation_periods),
            "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods),
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold),
            "TreatMissingData": alarm.treat_missing_data or "missing",
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
        },
    }


def publish_as_cloudwatch(alarm: Any, topic_arn: str, subject: str, message: str) -> None:
    """Publish as CloudWatch does for an alarm: decided (and audited) against the topic's policy."""
    from moto.sns.models import sns_backends

    from local_aws import sns_kms
    from local_aws.iam_conditions import RequestContext
    from local_aws.iam_gate import AUDIT, enforced, resource_policies
    from local_aws.iam_policy import Principal, decide
    from local_aws.iam_requests import KNOWN_KEYS

    parts = topic_arn.split(":")
    region, account = parts[3], parts[4]
    alarm_account = alarm.alarm_arn.split(":")[4]
    principal = Principal(SERVICE, alarm_account, "service", service=SERVICE)
    values: dict[str, str | list[str]] = {
        "aws:sourcearn": alarm.alarm_arn,
        "aws:sourceaccount": alarm_account,
        "aws:principalisawsservice": "true",
        "aws:securetransport": "true",
    }
    policies = resource_policies(account, "sns:Publish", topic_arn)
    decision = decide(principal, "sns:Publish", topic_arn, RequestContext(values, set(KNOWN_KEYS)), [], policies)
    AUDIT.add(principal, "Publish", "sns:Publish", topic_arn, decision)
    if not decision.allowed and enforced():
        log.warning("Failed to execute action %s for alarm %s: %s", topic_arn, alarm.name, decision.reason)
        return
    # SNS encrypts with the topic's key as CloudWatch: its key policy must let the service use it.
    refusal = sns_kms.publish_refusal(principal, [], topic_arn, RequestContext(values, set(KNOWN_KEYS)), AUDIT)
    if refusal is not None and enforced():
        log.warning(
            "Failed to execute action %s for alarm %s: %s: %s", topic_arn, alarm.name, refusal.code, refusal.message
        )
        return
    topic = sns_backends[account][region].topics.get(topic_arn)
    if topic is None:
        log.warning("Failed to execute action %s for alarm %s: the topic does not exist", topic_arn, alarm.name)
        return
    topic.publish(message, subject=subject)


class AlarmEvaluator:
    """Evaluates moto's alarms with ``clock`` and notifies with ``publish``."""

    def __init__(self, clock: Clock = utc_now, publish: Publish = publish_as_cloudwatch) -> None:
        self.clock, self.publish = clock, publish
        self._lock = threading.RLock()  # one evaluation at a time: a transition is seen, and notified, once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def created(self, alarm: Any, previous: Any | None) -> None:
        """After PutMetricAlarm: an update keeps the state; a new alarm starts INSUFFICIENT_DATA."""
        if previous is not None:
            for name in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "history"):
                setattr(alarm, name, getattr(previous, name))
            return
        alarm.state_value = INSUFFICIENT_DATA
        alarm.state_updated_timestamp = alarm.configuration_updated_timestamp = self.clock()

    def evaluate_alarm(self, backend: Any, alarm: Any) -> None:
        with self._lock:
            if backend.alarms.get(alarm.name) is not alarm or alarm.metric_data_queries or not alarm.metric_name:
                return  # deleted or replaced meanwhile; metric math is not evaluated here
            outcome = evaluate(alarm, list(backend.metric_data), self.clock())
            if outcome.state is None or outcome.state == alarm.state_value:
                return
            old_state = alarm.state_value
            alarm.update_state(outcome.reason, json.dumps(outcome.reason_data), outcome.state)
            alarm.state_updated_timestamp = self.clock()
            self._notify(backend, alarm, old_state)

    def _notify(self, backend: Any, alarm: Any, old_state: str) -> None:
        if not alarm.actions_enabled:
            return
        actions = {ALARM: alarm.alarm_actions, OK: alarm.ok_actions, INSUFFICIENT_DATA: alarm.insufficient_data_actions}
        topics = [arn for arn in actions[alarm.state_value] if arn.split(":")[2:3] == ["sns"]]
        if not topics:
            return
        subject = f'{alarm.state_value}: "{alarm.name}" in {_region_name(alarm.region_name)}'[:100]
        message = json.dumps(notification(alarm, old_state, backend.account_id))
        for topic in topics:
            try:
                self.publish(alarm, topic, subject, message)
            except Exception:
                log.exception("Failed to execute action %s for alarm %s", topic, alarm.name)

    def evaluate_backend(self, backend: Any) -> None:
        for alarm in list(backend.alarms.values()):
            try:
                self.evaluate_alarm(backend, alarm)
            except Exception:
                log.exception("Could not evaluate alarm %s", alarm.name)

    def evaluate_all(self) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        for regions in list(cloudwatch_backends.values()):
            for backend in list(regions.values()):
                self.evaluate_backend(backend)

    def start(self, interval: float = INTERVAL_S) -> None:
        """Evaluate every alarm each ``interval`` seconds in a daemon thread, until ``stop``."""
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                self.evaluate_all()

        self._thread = threading.Thread(target=loop, name="alarm-evaluator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


EVALUATOR = AlarmEvaluator()


def replacements(originals: dict[str, Any], evaluator: AlarmEvaluator = EVALUATOR) -> dict[str, Any]:
    """moto's PutMetricData and PutMetricAlarm, each followed by an evaluation."""
    put_data, put_alarm = originals[PUT_METRIC_DATA], originals[PUT_METRIC_ALARM]

    def put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        put_data(self, namespace, metric_data)
        evaluator.evaluate_backend(self)

    def put_metric_alarm(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = kwargs["name"] if "name" in kwargs else args[0]
        with evaluator._lock:
            previous = self.alarms.get(name)
            alarm = put_alarm(self, *args, **kwargs)
            evaluator.created(alarm, previous)
        evaluator.evaluate_alarm(self, alarm)
        return alarm

    return {PUT_METRIC_DATA: put_metric_data, PUT_METRIC_ALARM: put_metric_alarm}
