"""Every AWS call the pipeline makes at run time is allowed by the role that makes it, and nothing is a wildcard
where a name is known."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest

from employee_pipeline import layout
from employee_pipeline.config import pipeline_names
from infra import iam, mwaa_role
from infra.session import AwsTarget

ACCOUNT, REGION = "123456789012", "eu-west-1"
NAMES = pipeline_names("prod", "acme-employees")
BATCH = "20260101T00"
ENVIRONMENT, SOURCE = mwaa_role.environment_name(NAMES), mwaa_role.source_bucket_name(NAMES)


def _target() -> AwsTarget:
    return AwsTarget(region=REGION, _account=ACCOUNT)


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def _s3(key: str = "") -> str:
    return f"arn:aws:s3:::{NAMES.data_bucket}" + (f"/{key}" if key else "")


def _matches(patterns: str | list[str], value: str) -> bool:
    return any(fnmatchcase(value, p) for p in ([patterns] if isinstance(patterns, str) else patterns))


def allowed(policy: dict[str, Any], action: str, resource: str) -> list[str]:
    """The Sids of the statements that allow the call (none if any statement denies it)."""
    allowing = []
    for statement in policy["Statement"]:
        if not _matches(statement["Action"], action):
            continue
        if "NotResource" in statement:
            hit = not _matches(statement["NotResource"], resource)
        else:
            hit = _matches(statement["Resource"], resource)
        if hit and statement["Effect"] == "Deny":
            return []
        if hit:
            allowing.append(statement.get("Sid", "?"))
    return allowing


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
    ("logs:GetLogEvents", _arn("logs", "log-group:/aws-glue/jobs/output:log-stream:jr_1")),
    ("dynamodb:Query", _arn("dynamodb", f"table/{NAMES.table}/index/{NAMES.gsi}")),
    *(
        (f"dynamodb:{op}", _arn("dynamodb", f"table/{NAMES.lease_table}"))
        for op in ("PutItem", "GetItem", "DeleteItem")
    ),
    ("sns:Publish", _arn("sns", NAMES.alerts_topic)),
    ("sts:GetCallerIdentity", "*"),
    # MWAA itself
    ("airflow:PublishMetrics", _arn("airflow", f"environment/{ENVIRONMENT}")),
    ("s3:GetObject", f"arn:aws:s3:::{SOURCE}/dags/employee_batch_pipeline.py"),
    ("s3:GetObjectVersion", f"arn:aws:s3:::{SOURCE}/plugins.zip"),
    ("logs:PutLogEvents", _arn("logs", f"log-group:airflow-{ENVIRONMENT}-Task:log-stream:x")),
    ("sqs:ReceiveMessage", f"arn:aws:sqs:{REGION}:999999999999:airflow-celery-abc"),
    ("kms:Decrypt", f"arn:aws:kms:{REGION}:999999999999:key/abc"),
    ("cloudwatch:PutMetricData", "*"),
]

# What must stay out of reach of the DAG's role.
AIRFLOW_REFUSED = [
    ("s3:PutObject", _s3(layout.raw_key(BATCH, 0))),  # only the writer Lambda writes shards
    ("s3:DeleteObject", _s3(layout.manifest_key(BATCH))),
    ("dynamodb:BatchWriteItem", _arn("dynamodb", f"table/{NAMES.table}")),
    ("dynamodb:Query", _arn("dynamodb", "table/other-table/index/x")),
    ("lambda:InvokeFunction", _arn("lambda", "function:other")),
    ("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/customer-key"),  # only keys MWAA owns, through SQS
]


def _mwaa_policy() -> dict[str, Any]:
    return mwaa_role.execution_policy(_target(), NAMES, ENVIRONMENT, SOURCE)


@pytest.mark.parametrize(("action", "resource"), AIRFLOW_CALLS)
def test_every_call_of_the_dag_and_of_mwaa_is_covered(action: str, resource: str) -> None:
    assert allowed(_mwaa_policy(), action, resource), f"{action} on {resource} is not allowed"


@pytest.mark.parametrize(("action", "resource"), AIRFLOW_REFUSED)
def test_the_execution_role_allows_nothing_else_of_the_pipeline(action: str, resource: str) -> None:
    assert not allowed(_mwaa_policy(), action, resource)


def test_the_source_bucket_cannot_be_listed_among_all_buckets() -> None:
    assert not allowed(_mwaa_policy(), "s3:ListAllMyBuckets", f"arn:aws:s3:::{SOURCE}")


def test_the_execution_role_is_trusted_by_mwaa_in_this_account_only() -> None:
    (statement,) = mwaa_role.trust_policy(_target())["Statement"]
    assert sorted(statement["Principal"]["Service"]) == ["airflow-env.amazonaws.com", "airflow.amazonaws.com"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


# What the Lambdas and the Glue job call, by role.
RUNTIME_CALLS = {
    NAMES.lambda_role: [
        ("s3:PutObject", _s3(layout.raw_key(BATCH, 3))),
        ("logs:PutLogEvents", _arn("logs", f"log-group:/aws/lambda/{NAMES.writer_function}:log-stream:x")),
    ],
    NAMES.glue_role: [
        ("s3:ListBucket", _s3()),
        ("s3:GetObject", _s3(layout.raw_key(BATCH, 0))),
        ("s3:GetObject", f"arn:aws:s3:::{NAMES.artifacts_bucket}/glue/ingest_employees.py"),
        ("s3:PutObject", _s3(layout.manifest_key(BATCH))),
        ("s3:DeleteObject", _s3(layout.manifest_key(BATCH))),
        ("s3:PutObject", _s3(f"{layout.quarantine_prefix(BATCH)}part-00000.jsonl")),
        ("s3:DeleteObject", _s3(layout.raw_key(BATCH, 7))),
        *(
            (f"dynamodb:{op}", _arn("dynamodb", f"table/{NAMES.table}"))
            for op in ("DescribeTable", "BatchWriteItem", "DeleteItem")
        ),
        ("dynamodb:Query", _arn("dynamodb", f"table/{NAMES.table}/index/{NAMES.gsi}")),
        *((f"dynamodb:{op}", _arn("dynamodb", f"table/{NAMES.lease_table}")) for op in ("GetItem", "UpdateItem")),
    ],
}


@pytest.mark.parametrize(
    ("role", "action", "resource"),
    [(role, action, resource) for role, calls in RUNTIME_CALLS.items() for action, resource in calls],
)
def test_every_call_of_the_lambdas_and_the_glue_job_is_covered(role: str, action: str, resource: str) -> None:
    _, policy = iam.role_policies(_target(), NAMES)[role]
    assert allowed(policy, action, resource), f"{role}: {action} on {resource} is not allowed"
