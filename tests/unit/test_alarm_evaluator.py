"""The local AWS's alarm evaluation (local_aws/alarm_evaluator.py) on moto's own CloudWatch backend, with a
clock the test sets: states, reasons and the notifications a transition publishes, once."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from moto.cloudwatch.models import CloudWatchBackend

from local_aws.alarm_evaluator import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    PUT_METRIC_ALARM,
    PUT_METRIC_DATA,
    AlarmEvaluator,
    replacements,
)

ACCOUNT, REGION = "123456789012", "us-east-1"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"
NAMESPACE, STAGE = "Pipeline", [{"Name": "stage", "Value": "dev"}]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 7, 10, 15))


@pytest.fixture
def sent() -> list[tuple[str, str, dict[str, Any]]]:
    return []


@pytest.fixture
def backend(clock: Clock, sent: list) -> CloudWatchBackend:
    """moto's backend with the local AWS's PutMetricData and PutMetricAlarm (each followed by an evaluation)."""
    evaluator = AlarmEvaluator(
        clock, lambda alarm, topic, subject, message: sent.append((topic, subject, json.loads(message)))
    )
    originals = {
        PUT_METRIC_DATA: CloudWatchBackend.put_metric_data,
        PUT_METRIC_ALARM: CloudWatchBackend.put_metric_alarm,
    }
    patched = replacements(originals, evaluator)
    cls = type(
        "Backend",
        (CloudWatchBackend,),
        {"put_metric_data": patched[PUT_METRIC_DATA], "put_metric_alarm": patched[PUT_METRIC_ALARM]},
    )
    made = cls(REGION, ACCOUNT)
    made.evaluator = evaluator  # type: ignore[attr-defined]
    return made


def _alarm(backend: CloudWatchBackend, name: str, metric: str, **settings: Any) -> Any:
    definition = {
        "name": name,
        "namespace": NAMESPACE,
        "metric_name": metric,
        "comparison_operator": "GreaterThanThreshold",
        "evaluation_periods": 1,
        "period": 3600,
        "threshold": 0.0,
        "statistic": "Maximum",
        "description": "d",
        "dimensions": STAGE,
        "alarm_actions": [TOPIC],
        "ok_actions": [TOPIC],
        "treat_missing_data": "notBreaching",
        **settings,
    }
    return backend.put_metric_alarm(**definition)


def _put(backend: CloudWatchBackend, metric: str, value: float, at: datetime, dimensions: list | None = None) -> None:
    datum = {"MetricName": metric, "Value": value, "Dimensions": STAGE if dimensions is None else dimensions}
    backend.put_metric_data(NAMESPACE, [{**datum, "Timestamp": at}])


def test_a_breaching_datapoint_alarms_and_notifies_once(backend, clock, sent) -> None:
    alarm = _alarm(backend, "share", "QuarantinedFraction")
    # New: INSUFFICIENT_DATA, then evaluated at once: no data, treated as not breaching -> OK (OK actions run).
    assert alarm.state_value == OK
    assert [(m["OldStateValue"], m["NewStateValue"]) for _, _, m in sent] == [(INSUFFICIENT_DATA, OK)]
    sent.clear()

    _put(backend, "QuarantinedFraction", 0.25, clock.now)
    assert alarm.state_value == ALARM
    assert alarm.state_updated_timestamp == clock.now
    assert alarm.state_reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints [0.25 (07/12/26 10:00:00)]")
    assert json.loads(alarm.state_reason_data)["recentDatapoints"] == [0.25]
    [(topic, subject, message)] = sent
    assert topic == TOPIC and subject == 'ALARM: "share" in US East (N. Virginia)'
    assert message["AlarmName"] == "share" and message["AlarmArn"] == alarm.alarm_arn
    assert (message["OldStateValue"], message["NewStateValue"]) == (OK, ALARM)
    assert message["NewStateReason"] == alarm.state_reason and message["AWSAccountId"] == ACCOUNT
    assert message["Region"] == "US East (N. Virginia)"
    assert message["Trigger"] == {
        "MetricName": "QuarantinedFraction",
        "Namespace": NAMESPACE,
        "StatisticType": "Statistic",
        "Statistic": "MAXIMUM",
        "Unit": None,
        "Dimensions": [{"value": "dev", "name": "stage"}],
        "Period": 3600,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 0.0,
        "TreatMissingData": "notBreaching",
        "EvaluateLowSampleCountPercentile": "",
    }

    # Still breaching: no new transition, no second notification (periodic evaluations and more data alike).
    clock.now += timedelta(minutes=5)
    backend.evaluator.evaluate_backend(backend)
    _put(backend, "QuarantinedFraction", 0.5, clock.now)
    assert alarm.state_value == ALARM and len(sent) == 1

    # The next hour has no data (not breaching): back to OK, with its one OK notification.
    clock.now += timedelta(hours=1)
    backend.evaluator.evaluate_backend(backend)
    assert alarm.state_value == OK
    assert [m["NewStateValue"] for _, _, m in sent] == [ALARM, OK]


def test_datapoints_within_the_threshold_or_of_another_metric_do_not_alarm(backend, clock, sent) -> None:
    _put(backend, "QuarantinedFraction", 0.0, clock.now)
    _put(backend, "QuarantinedFraction", 0.9, clock.now, dimensions=[{"Name": "stage", "Value": "prod"}])
    _put(backend, "QuarantinedFraction", 0.9, clock.now, dimensions=[])
    _put(backend, "RowsQuarantined", 9, clock.now)
    _put(backend, "QuarantinedFraction", 0.9, clock.now - timedelta(hours=1))  # an earlier period
    alarm = _alarm(backend, "share", "QuarantinedFraction")
    _put(backend, "QuarantinedFraction", 0.0, clock.now)
    assert alarm.state_value == OK
    assert alarm.state_reason.startswith("Threshold Crossed: 1 datapoint [0.0 (07/12/26 10:00:00)] was not greater")
    assert [m["NewStateValue"] for _, _, m in sent] == [OK]


def test_no_loaded_batch_for_two_hourly_periods_alarms_as_missing_data_breaching(backend, clock, sent) -> None:
    alarm = _alarm(
        backend,
        "stale",
        "BatchesLoaded",
        statistic="Sum",
        comparison_operator="LessThanThreshold",
        threshold=1.0,
        evaluation_periods=2,
        datapoints_to_alarm=2,
        treat_missing_data="breaching",
        ok_actions=[],
    )
    assert alarm.state_value == ALARM  # a new stage without any batch yet
    assert alarm.state_reason == (
        "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as "
        "[Breaching]."
    )
    _put(backend, "BatchesLoaded", 1, clock.now)  # 10:15
    assert alarm.state_value == OK
    clock.now = datetime(2026, 12, 7, 11, 59)  # 10:00 still among the last 2 periods
    backend.evaluator.evaluate_backend(backend)
    assert alarm.state_value == OK
    clock.now = datetime(2026, 12, 7, 12, 1)  # 11:00 and 12:00 empty
    backend.evaluator.evaluate_backend(backend)
    assert alarm.state_value == ALARM
    # ALARM notified twice (created, then after the gap); OK has no actions here.
    assert [m["NewStateValue"] for _, _, m in sent] == [ALARM, ALARM]
    assert sent[-1][2]["Trigger"]["TreatMissingData"] == "breaching"


def test_failed_runs_sum_at_or_over_one_alarms(backend, clock, sent) -> None:
    alarm = _alarm(
        backend,
        "failed",
        "FailedRuns",
        statistic="Sum",
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=1.0,
    )
    _put(backend, "FailedRuns", 1, clock.now)
    assert alarm.state_value == ALARM
    assert "was greater than or equal to the threshold (1.0)" in alarm.state_reason


def test_an_updated_alarm_keeps_its_state_and_a_new_one_with_missing_data_is_insufficient(backend, clock, sent) -> None:
    _put(backend, "FailedRuns", 2, clock.now)
    alarm = _alarm(backend, "failed", "FailedRuns", statistic="Sum", threshold=1.0)
    assert alarm.state_value == ALARM
    replaced = _alarm(backend, "failed", "FailedRuns", statistic="Sum", threshold=1.0, description="new words")
    assert replaced is not alarm and replaced.state_value == ALARM and replaced.description == "new words"
    assert [m["NewStateValue"] for _, _, m in sent] == [ALARM]

    fresh = _alarm(backend, "quiet", "Nothing", treat_missing_data="missing", ok_actions=[])
    assert fresh.state_value == INSUFFICIENT_DATA
    assert fresh.state_reason == "Unchecked: Initial alarm creation"


def test_datapoints_to_alarm_counts_breaching_periods(backend, clock, sent) -> None:
    start = clock.now
    _put(backend, "Latency", 5, start - timedelta(hours=2))
    _put(backend, "Latency", 50, start - timedelta(hours=1))
    _put(backend, "Latency", 5, start)
    settings = {"statistic": "Average", "threshold": 10.0, "evaluation_periods": 3}
    two_of_three = _alarm(backend, "two", "Latency", datapoints_to_alarm=2, **settings)
    one_of_three = _alarm(backend, "one", "Latency", datapoints_to_alarm=1, **settings)
    assert (two_of_three.state_value, one_of_three.state_value) == (OK, ALARM)


def test_the_periodic_evaluation_sees_time_pass_and_stops(backend, clock, sent, monkeypatch) -> None:
    alarm = _alarm(
        backend,
        "gap",
        "BatchesLoaded",
        statistic="Sum",
        comparison_operator="LessThanThreshold",
        threshold=1.0,
        treat_missing_data="breaching",
    )
    _put(backend, "BatchesLoaded", 1, clock.now)
    assert alarm.state_value == OK
    evaluator = backend.evaluator
    monkeypatch.setattr(evaluator, "evaluate_all", lambda: evaluator.evaluate_backend(backend))
    clock.now += timedelta(hours=1)  # the next period has no batch; nothing is put: only the thread evaluates
    evaluator.start(interval=0.01)
    try:
        for _ in range(500):
            if alarm.state_value == ALARM:
                break
            threading.Event().wait(0.01)
    finally:
        evaluator.stop()
    assert alarm.state_value == ALARM
    assert [m["NewStateValue"] for _, _, m in sent][-1] == ALARM
    assert not [t for t in threading.enumerate() if t.name == "alarm-evaluator"]
