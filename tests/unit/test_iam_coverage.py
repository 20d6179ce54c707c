"""Every AWS call the pipeline makes at run time is allowed by the role that makes it, and nothing is a wildcard
where a name is known, decided by the local AWS's IAM evaluator. These lists are kept by hand for what no local
run makes (MWAA's own calls, KMS through SQS) and for what must be refused; the calls a run really makes are
checked against the policies in tests/e2e/test_iam_audit.py."""

from __future__ import annotations

from typing import Any

import pytest

from employee_pipeline import layout
from employee_pipeline.config import METRICS_NAMESPACE, pipeline_names
from infra import iam, mwaa_role
from infra.resources import GLUE_PACKAGE_KEY, GLUE_SCRIPT_KEY
from infra.session import AwsTarget
from local_aws.iam_conditions import RequestContext
from local_aws.iam_policy import Policy, Principal, decide
from local_aws.iam_requests import KNOWN_KEYS

ACCOUNT, REGION = "123456789012", "eu-west-1"
NAMES = pipeline_names("prod", "acme-employees")
BATCH = "20260101T00"
ENVIRONMENT, SOURCE = NAMES.mwaa_environment, NAMES.mwaa_source_bucket


def _target() -> AwsTarget:
    return AwsTarget(region=REGION, _account=ACCOUNT)


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def _s3(key: str = "") -> str:
    return f"arn:aws:s3:::{NAMES.data_bucket}" + (f"/{key}" if key else "")


def allowed(policy: dict[str, Any], action: str, resource: str, context: dict[str, str] | None = None) -> list[str]:
    """The Sid of the statement that allows the call as the local AWS's IAM decides it (none if refused);
    ``context`` holds the call's condition keys."""
    principal = Principal(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s", ACCOUNT, "role", role_arn=f"arn:aws:iam::{ACCOUNT}:role/r"
    )
    values = {key.lower(): value for key, value in (context or {}).items()}
    decision = decide(principal, action, resource, RequestContext(values, set(KNOWN_KEYS)), [Policy("p", policy)], [])
    return [decision.statement or "?"] if decision.allowed else []


# What the DAG, its sensors and operators, the XCom backend and the alert callback call (MWAA's role).
AIRFLOW_CALLS = [
    ("lambda:InvokeFunction", _arn("lambda", f"function:{NAMES.generator_function}")),
    ("lambda:InvokeFunction", _arn("lambda", f"function:{NAMES.writer_function}")),
    ("s3:ListBucket", _s3()),
    ("s3:GetObject", _s3(layout.raw_key(BATCH, 0))),
    ("s3:GetObject", _s3(layout.manifest_key(BATCH))),
    ("s3:GetObject", _s3(f"{layout.XCOM_PREFIX}/dag/run/generate/x.gz")),
    ("s3:PutObject", _s3(f"{layout.XCOM_PREFIX}/dag/run/generate/x.gz")),
    ("s3:DeleteObject", _s3(f"{layout.XCOM_PREFIX}/dag/run/generate/x.gz")),
    *(
        (f"glue:{op}", _arn("glue", f"job/{NAMES.glue_job}"))
        for op in ("GetJob", "StartJobRun", "GetJobRun", "GetJobRuns", "BatchStopJobRun")
    ),
    # verbose ingest: the trigger reads the run's Glue 5.0 driver streams
    *(
        ("logs:GetLogEvents", _arn("logs", f"log-group:/aws-glue/jobs/{group}:log-stream:jr_1-driver"))
        for group in ("output", "error")
    ),
    ("dynamodb:Query", _arn("dynamodb", f"table/{NAMES.table}/index/{NAMES.gsi}")),
    *((f"dynamodb:{op}", _arn("dynamodb", f"table/{NAMES.lease_table}")) for op in ("GetItem", "UpdateItem")),
    ("sns:Publish", _arn("sns", NAMES.alerts_topic)),
    ("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": METRICS_NAMESPACE}),  # the batch's metrics
    # MWAA itself
    ("airflow:PublishMetrics", _arn("airflow", f"environment/{ENVIRONMENT}")),
    ("s3:GetObject", f"arn:aws:s3:::{SOURCE}/dags/employee_batch_pipeline.py"),
    ("s3:GetObjectVersion", f"arn:aws:s3:::{SOURCE}/plugins.zip"),
    ("logs:PutLogEvents", _arn("logs", f"log-group:airflow-{ENVIRONMENT}-Task:log-stream:x")),
    ("sqs:ReceiveMessage", f"arn:aws:sqs:{REGION}:999999999999:airflow-celery-abc"),
    (
        "kms:Decrypt",
        f"arn:aws:kms:{REGION}:999999999999:key/abc",
        {"kms:ViaService": f"sqs.{REGION}.amazonaws.com", "aws:ResourceAccount": "999999999999"},
    ),
    ("s3:ListBucketVersions", f"arn:aws:s3:::{SOURCE}"),
    ("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": mwaa_role.MWAA_METRICS_NAMESPACE}),
]

# What must stay out of reach of the DAG's role.
AIRFLOW_REFUSED = [
    ("s3:PutObject", _s3(layout.raw_key(BATCH, 0))),  # only the writer Lambda writes shards
    ("s3:DeleteObject", _s3(layout.manifest_key(BATCH))),
    ("dynamodb:BatchWriteItem", _arn("dynamodb", f"table/{NAMES.table}")),
    ("dynamodb:Query", _arn("dynamodb", "table/other-table/index/x")),
    ("lambda:InvokeFunction", _arn("lambda", "function:other")),
    # Metrics in the pipeline's namespace and MWAA's only.
    ("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "OtherNamespace"}),
    ("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "AWS/Glue"}),
    ("cloudwatch:PutMetricData", "*"),
    # Only keys MWAA owns, and only through SQS.
    (
        "kms:Decrypt",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/customer-key",
        {"kms:ViaService": f"sqs.{REGION}.amazonaws.com", "aws:ResourceAccount": ACCOUNT},
    ),
    (
        "kms:Decrypt",
        f"arn:aws:kms:{REGION}:999999999999:key/abc",
        {"kms:ViaService": f"s3.{REGION}.amazonaws.com", "aws:ResourceAccount": "999999999999"},
    ),
]


def _mwaa_policy() -> dict[str, Any]:
    return mwaa_role.execution_policy(_target(), NAMES, ENVIRONMENT, SOURCE)


@pytest.mark.parametrize("call", AIRFLOW_CALLS)
def test_every_call_of_the_dag_and_of_mwaa_is_covered(call: tuple[Any, ...]) -> None:
    assert allowed(_mwaa_policy(), *call), f"{call} is not allowed"


@pytest.mark.parametrize("call", AIRFLOW_REFUSED)
def test_the_execution_role_allows_nothing_else_of_the_pipeline(call: tuple[Any, ...]) -> None:
    assert not allowed(_mwaa_policy(), *call), f"{call} is allowed"


def test_the_source_bucket_cannot_be_listed_among_all_buckets() -> None:
    """The ``MwaaNoBucketListing`` Deny refuses it even when another statement allows everything."""
    call = ("s3:ListAllMyBuckets", f"arn:aws:s3:::{SOURCE}")
    policy = _mwaa_policy()
    assert not allowed(policy, *call)
    everything = {"Sid": "AllowEverything", "Effect": "Allow", "Action": "*", "Resource": "*"}
    assert not allowed({**policy, "Statement": [*policy["Statement"], everything]}, *call)
    # Without the Deny, the same allow-everything statement does allow it: the Deny is what refuses.
    others = [s for s in policy["Statement"] if s.get("Sid") != "MwaaNoBucketListing"]
    assert len(others) == len(policy["Statement"]) - 1
    assert allowed({**policy, "Statement": [*others, everything]}, *call) == ["AllowEverything"]


def test_the_execution_role_is_trusted_by_mwaa_in_this_account_only() -> None:
    (statement,) = mwaa_role.trust_policy(_target())["Statement"]
    assert sorted(statement["Principal"]["Service"]) == ["airflow-env.amazonaws.com", "airflow.amazonaws.com"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def _log_stream(function: str) -> str:
    return _arn("logs", f"log-group:/aws/lambda/{function}:log-stream:2026/01/01/[$LATEST]abc")


# What the Lambdas and the Glue job call, by role (with the call's condition keys where a statement has some).
RUNTIME_CALLS: dict[str, list[tuple[Any, ...]]] = {
    # The generator calls no AWS service: its log only.
    NAMES.generator_role: [
        (op, _log_stream(NAMES.generator_function)) for op in ("logs:CreateLogStream", "logs:PutLogEvents")
    ],
    NAMES.writer_role: [
        ("s3:PutObject", _s3(layout.raw_key(BATCH, 3))),
        *((op, _log_stream(NAMES.writer_function)) for op in ("logs:CreateLogStream", "logs:PutLogEvents")),
    ],
    NAMES.glue_role: [
        ("logs:PutLogEvents", _arn("logs", "log-group:/aws-glue/jobs/output:log-stream:jr_1-driver")),
        ("logs:PutLogEvents", _arn("logs", "log-group:/aws-glue/jobs/error:log-stream:jr_1-driver")),
        ("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Glue"}),
        ("s3:ListBucket", _s3(), {"s3:prefix": layout.raw_prefix(BATCH)}),
        ("s3:ListBucket", _s3(), {"s3:prefix": layout.quarantine_prefix(BATCH)}),
        ("s3:GetObject", _s3(layout.raw_key(BATCH, 0))),
        # The job's script and its --extra-py-files zip, which Glue reads as the job's role.
        ("s3:GetObject", f"arn:aws:s3:::{NAMES.artifacts_bucket}/{GLUE_SCRIPT_KEY}"),
        ("s3:GetObject", f"arn:aws:s3:::{NAMES.artifacts_bucket}/{GLUE_PACKAGE_KEY}"),
        ("s3:PutObject", _s3(layout.manifest_key(BATCH))),
        ("s3:DeleteObject", _s3(layout.manifest_key(BATCH))),
        ("s3:PutObject", _s3(f"{layout.quarantine_prefix(BATCH)}part-00000.jsonl")),
        ("s3:DeleteObject", _s3(layout.raw_key(BATCH, 7))),
        *((f"dynamodb:{op}", _arn("dynamodb", f"table/{NAMES.table}")) for op in ("DescribeTable", "BatchWriteItem")),
        ("dynamodb:Query", _arn("dynamodb", f"table/{NAMES.table}/index/{NAMES.gsi}")),
        *((f"dynamodb:{op}", _arn("dynamodb", f"table/{NAMES.lease_table}")) for op in ("GetItem", "UpdateItem")),
    ],
}


# What each runtime role must not do.
RUNTIME_REFUSED: dict[str, list[tuple[Any, ...]]] = {
    NAMES.generator_role: [
        ("s3:PutObject", _s3(layout.raw_key(BATCH, 3))),  # only the writer writes shards
        ("logs:PutLogEvents", _log_stream(NAMES.writer_function)),
        ("logs:CreateLogGroup", _arn("logs", f"log-group:/aws/lambda/{NAMES.generator_function}")),
    ],
    NAMES.writer_role: [
        ("s3:PutObject", _s3(layout.manifest_key(BATCH))),
        ("s3:GetObject", _s3(layout.raw_key(BATCH, 3))),
        ("logs:PutLogEvents", _log_stream(NAMES.generator_function)),
        ("logs:CreateLogGroup", _arn("logs", f"log-group:/aws/lambda/{NAMES.writer_function}")),
    ],
    NAMES.glue_role: [
        ("dynamodb:PutItem", _arn("dynamodb", f"table/{NAMES.table}")),
        ("dynamodb:PutItem", _arn("dynamodb", f"table/{NAMES.lease_table}")),
        ("logs:CreateLogGroup", _arn("logs", "log-group:/aws-glue/jobs/output")),
        ("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "AWS/Other"}),
        ("cloudwatch:PutMetricData", "*"),
        ("s3:ListBucket", _s3(), {"s3:prefix": f"{layout.XCOM_PREFIX}/"}),
        ("s3:ListBucket", _s3(), {"s3:prefix": layout.manifest_key(BATCH)}),
        ("s3:ListBucket", _s3()),  # the whole bucket
    ],
}


def _runtime_policy(role: str) -> dict[str, Any]:
    return iam.role_policies(_target(), NAMES)[role][1]


@pytest.mark.parametrize(("role", "call"), [(role, call) for role, calls in RUNTIME_CALLS.items() for call in calls])
def test_every_call_of_the_lambdas_and_the_glue_job_is_covered(role: str, call: tuple[Any, ...]) -> None:
    assert allowed(_runtime_policy(role), *call), f"{role}: {call} is not allowed"


@pytest.mark.parametrize(("role", "call"), [(role, call) for role, calls in RUNTIME_REFUSED.items() for call in calls])
def test_each_runtime_role_allows_nothing_else(role: str, call: tuple[Any, ...]) -> None:
    assert not allowed(_runtime_policy(role), *call), f"{role}: {call} is allowed"


def test_the_generator_role_allows_nothing_but_its_log() -> None:
    actions = {a for s in _runtime_policy(NAMES.generator_role)["Statement"] for a in s["Action"]}
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_every_runtime_role_has_its_own_and_is_trusted_in_this_account_only() -> None:
    policies = iam.role_policies(_target(), NAMES)
    assert set(policies) == {NAMES.generator_role, NAMES.writer_role, NAMES.glue_role}
    for role, (service, _) in policies.items():
        (statement,) = iam.trust_policy(_target(), service)["Statement"]
        assert statement["Principal"] == {"Service": service}, role
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}, role
