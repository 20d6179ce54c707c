"""PutMetricData is decided on its namespace (``cloudwatch:namespace``), from the request as a client sends it:
the installed botocore's own request (JSON, whatever the model lists first) and the query protocol's form."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from employee_pipeline.config import METRICS_NAMESPACE, pipeline_names
from infra import mwaa_role
from infra.session import AwsTarget
from local_aws import iam_requests
from local_aws.iam_policy import Policy, Principal, decide

ACCOUNT = "123456789012"
NAMES = pipeline_names("prod")
ROLE = Principal(
    f"arn:aws:sts::{ACCOUNT}:assumed-role/{NAMES.mwaa_execution_role}/s",
    ACCOUNT,
    "role",
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/{NAMES.mwaa_execution_role}",
)


class _Sent(Exception):
    """Stops the client once it has built the request."""


def _botocore_request(namespace: str) -> dict[str, Any]:
    """The WSGI environ of the PutMetricData request the installed botocore sends."""
    client = boto3.client(
        "cloudwatch",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    sent: dict[str, Any] = {}

    def capture(request: Any, **_: Any) -> None:
        sent["request"] = request
        raise _Sent

    client.meta.events.register("before-send.cloudwatch.PutMetricData", capture)
    with pytest.raises(_Sent):
        client.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "RowsRead", "Value": 1.0}])
    request = sent["request"]
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    url = urlsplit(request.url)
    environ = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": url.path or "/",
        "QUERY_STRING": url.query,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_HOST": url.netloc,
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        value = value.decode() if isinstance(value, bytes) else value
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return environ


def _query_request(namespace: str) -> dict[str, Any]:
    """The same call in CloudWatch's query protocol (form-encoded ``Action=PutMetricData``)."""
    body = (
        f"Action=PutMetricData&Version=2010-08-01&Namespace={namespace}"
        "&MetricData.member.1.MetricName=RowsRead&MetricData.member.1.Value=1"
    ).encode()
    scope = "testing/20260101/us-east-1/monitoring/aws4_request"
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_HOST": "127.0.0.1:4566",
        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=x",
    }


def _allowed_by(environ: dict[str, Any]) -> str | None:
    """The Sid of the MWAA execution role's statement that allows the request (None: refused)."""
    call = iam_requests.read_call(environ)
    (check,) = iam_requests.checks(call, ACCOUNT)
    assert (check.action, check.resource) == ("cloudwatch:PutMetricData", "*")
    policy = mwaa_role.execution_policy(
        AwsTarget(region="us-east-1", _account=ACCOUNT), NAMES, *mwaa_role.default_environment(NAMES)
    )
    context = iam_requests.global_context(call, ROLE, check.resource, check.keys)
    decision = decide(ROLE, check.action, check.resource, context, [Policy("inline", policy)], [])
    return decision.statement if decision.allowed else None


@pytest.mark.parametrize("request_of", [_botocore_request, _query_request], ids=["botocore", "query"])
@pytest.mark.parametrize(
    ("namespace", "statement"),
    [
        (METRICS_NAMESPACE, "PublishBatchMetrics"),
        (mwaa_role.MWAA_METRICS_NAMESPACE, "MwaaMetrics"),
        ("OtherNamespace", None),
        ("Glue", None),
    ],
)
def test_the_execution_role_publishes_metrics_in_the_pipelines_and_mwaas_namespaces_only(
    request_of: Any, namespace: str, statement: str | None
) -> None:
    environ = request_of(namespace)
    assert iam_requests.read_call(environ).operation == "PutMetricData"
    assert _allowed_by(environ) == statement
