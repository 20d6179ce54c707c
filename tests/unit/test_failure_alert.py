"""The failure callback publishes the SNS alert and counts the failure in CloudWatch, each whatever the other
does (the hooks stand in for AWS: each records its call or raises as a refused call would)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from employee_pipeline import alerts, config

NAMES = config.pipeline_names("unit")
CONTEXT = {
    "ti": SimpleNamespace(dag_id="d", task_id="t", map_index=-1, run_id="r", try_number=2, log_url="u"),
    "exception": RuntimeError("boom"),
}


def _refused(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "AccessDenied", "Message": "refused"}}, operation)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from airflow.providers.amazon.aws.hooks import base_aws, sns

    recorded: dict[str, Any] = {"refuse": set()}

    class Client:
        def __init__(self, client_type: str) -> None:
            self.client_type = client_type

        def get_caller_identity(self) -> dict[str, str]:
            return {"Account": "123456789012"}

        def put_metric_data(self, **kwargs: Any) -> dict[str, Any]:
            if "cloudwatch" in recorded["refuse"]:
                raise _refused("PutMetricData")
            recorded["metric"] = kwargs
            return {}

    class AwsBaseHook:
        def __init__(self, aws_conn_id: str, client_type: str) -> None:
            self.conn = Client(client_type)

    class SnsHook:
        conn_partition, conn_region_name = "aws", "us-east-1"

        def __init__(self, aws_conn_id: str) -> None:
            pass

        def publish_to_target(self, target_arn: str, message: str, subject: str) -> str:
            if "sns" in recorded["refuse"]:
                raise _refused("Publish")
            recorded["alert"] = (target_arn, subject)
            return "message-id"

    monkeypatch.setattr(base_aws, "AwsBaseHook", AwsBaseHook)
    monkeypatch.setattr(sns, "SnsHook", SnsHook)
    monkeypatch.setattr(config, "names_from_variables", lambda: NAMES)
    return recorded


def test_a_failure_is_alerted_and_counted(calls: dict[str, Any]) -> None:
    alerts.publish_failure_alert(CONTEXT)
    assert calls["alert"] == (f"arn:aws:sns:us-east-1:123456789012:{NAMES.alerts_topic}", "[unit] d.t failed")
    assert calls["metric"] == {
        "Namespace": config.METRICS_NAMESPACE,
        "MetricData": [
            {
                "MetricName": config.METRIC_FAILED_RUNS,
                "Dimensions": [{"Name": config.METRIC_DIMENSION, "Value": "unit"}],
                "Value": 1,
                "Unit": "Count",
            }
        ],
    }


@pytest.mark.parametrize(("refused", "still"), [("cloudwatch", "alert"), ("sns", "metric")])
def test_a_refused_call_hides_neither_the_other_nor_the_tasks_error(calls: dict[str, Any], refused, still) -> None:
    calls["refuse"].add(refused)
    alerts.publish_failure_alert(CONTEXT)  # logged, not raised
    assert still in calls
    assert ({"alert", "metric"} - {still}).isdisjoint(calls)
