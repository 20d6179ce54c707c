"""The MWAA execution role publishes metrics in the pipeline's namespace, and the local AWS keeps them;
any other namespace is refused as CloudWatch refuses it (an AccessDenied the client parses)."""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from employee_pipeline.config import METRIC_DIMENSION, METRIC_ROWS_READ, METRICS_NAMESPACE, PipelineNames
from local_aws.iam_gate import CREDENTIALS_PATH
from local_run.airflow_env import MWAA_SERVICE

pytestmark = pytest.mark.integration


def _as_execution_role(local_aws: str, role: str) -> object:
    """A CloudWatch client with the session MWAA's tasks get of the execution role."""
    with urllib.request.urlopen(f"{local_aws}{CREDENTIALS_PATH}{MWAA_SERVICE}/{role}", timeout=10) as response:
        credentials = json.load(response)
    return boto3.client(
        "cloudwatch",
        endpoint_url=local_aws,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["Token"],
    )


def test_the_execution_role_publishes_metrics_in_its_namespace_only(aws, local_aws: str, stage: PipelineNames) -> None:
    role = stage.mwaa_execution_role
    cloudwatch = _as_execution_role(local_aws, role)
    datum = {"MetricName": METRIC_ROWS_READ, "Value": 5.0, "Dimensions": [{"Name": METRIC_DIMENSION, "Value": "it"}]}
    cloudwatch.put_metric_data(Namespace=METRICS_NAMESPACE, MetricData=[datum])
    # (Other stages of the session's local AWS publish the same metric with their own stage.)
    listed = aws.client("cloudwatch").list_metrics(
        Namespace=METRICS_NAMESPACE, MetricName=METRIC_ROWS_READ, Dimensions=datum["Dimensions"]
    )["Metrics"]
    assert [m["Dimensions"] for m in listed] == [datum["Dimensions"]]
    for namespace in ("OtherNamespace", f"{METRICS_NAMESPACE}-copy"):
        with pytest.raises(ClientError) as caught:
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=[datum])
        error = caught.value.response["Error"]
        assert error["Code"] == "AccessDenied", error
        assert f"assumed-role/{role}/" in error["Message"], error["Message"]
        assert "not authorized to perform: cloudwatch:PutMetricData on resource: * " in error["Message"]
