"""The MWAA execution role publishes metrics in the pipeline's namespace, and the local AWS keeps them;
any other namespace is refused as CloudWatch refuses it (an AccessDenied the client parses)."""

from __future__ import annotations

import pytest

from employee_pipeline.config import METRIC_DIMENSION, METRIC_ROWS_READ, METRICS_NAMESPACE, PipelineNames
from tests.integration.test_iam_enforced import refused, role_session

pytestmark = pytest.mark.integration


def test_the_execution_role_publishes_metrics_in_its_namespace_only(aws, local_aws: str, stage: PipelineNames) -> None:
    role = stage.mwaa_execution_role
    cloudwatch = role_session(local_aws, "airflow-env.amazonaws.com", role).client("cloudwatch", endpoint_url=local_aws)
    datum = {"MetricName": METRIC_ROWS_READ, "Value": 5.0, "Dimensions": [{"Name": METRIC_DIMENSION, "Value": "it"}]}
    cloudwatch.put_metric_data(Namespace=METRICS_NAMESPACE, MetricData=[datum])
    listed = aws.client("cloudwatch").list_metrics(Namespace=METRICS_NAMESPACE, MetricName=METRIC_ROWS_READ)["Metrics"]
    assert [m["Dimensions"] for m in listed] == [datum["Dimensions"]]
    for namespace in ("OtherNamespace", f"{METRICS_NAMESPACE}-copy"):
        refused(
            lambda namespace=namespace: cloudwatch.put_metric_data(Namespace=namespace, MetricData=[datum]),
            "cloudwatch:PutMetricData",
            "*",
            role,
        )
