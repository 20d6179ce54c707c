"""The MWAA environment's execution role: what the DAG calls, scoped to the stage, plus what MWAA needs.

Generated from the same names as everything else, so it always matches what ``deploy`` created.
MWAA's own statements follow the execution-role policy of the MWAA User Guide ("Amazon MWAA
execution role", for an environment using an AWS-owned KMS key).
"""

from __future__ import annotations

from typing import Any

from employee_pipeline.config import METRICS_NAMESPACE, PipelineNames
from employee_pipeline.layout import MANIFEST_PREFIX, RAW_PREFIX, XCOM_PREFIX
from infra import iam
from infra.keys import pending_arn
from infra.session import AwsTarget

MWAA_SERVICES = ("airflow.amazonaws.com", "airflow-env.amazonaws.com")
MWAA_METRICS_NAMESPACE = "AmazonMWAA"


def default_environment(names: PipelineNames) -> tuple[str, str]:
    """(environment, source bucket) of a stage whose environment keeps the default names: what a local
    stage's execution role is made for (the local Airflow runs its tasks as that role)."""
    return names.mwaa_environment, names.mwaa_source_bucket


def trust_policy(target: AwsTarget) -> dict[str, Any]:
    return iam.trust_policy(target, list(MWAA_SERVICES))


def _pipeline_statements(
    target: AwsTarget, names: PipelineNames, alerts_key_arn: str | None = None
) -> list[dict[str, Any]]:
    """What the DAG's tasks, sensors, operators, XCom backend and alert callback call; ``alerts_key_arn``:
    the key of the alerts topic (infra/keys.py), or a stand-in deploy replaces (``keys.pending_arn``)."""
    data = f"arn:{target.partition}:s3:::{names.data_bucket}"
    table = target.arn("dynamodb", f"table/{names.table}")
    return [
        {
            "Sid": "InvokeThePipelineLambdas",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [
                target.arn("lambda", f"function:{names.generator_function}"),
                target.arn("lambda", f"function:{names.writer_function}"),
            ],
        },
        # HeadObject (the sensor) tells a missing key from a forbidden one only with ListBucket;
        # s3fs (the XCom backend) checks the bucket with HeadBucket, which has no prefix to condition on.
        {"Sid": "ListTheDataBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": data},
        {
            "Sid": "ReadShardsManifestsAndXComs",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [f"{data}/{RAW_PREFIX}/*", f"{data}/{MANIFEST_PREFIX}/*", f"{data}/{XCOM_PREFIX}/*"],
        },
        {
            "Sid": "ObjectStorageXComs",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": f"{data}/{XCOM_PREFIX}/*",
        },
        {
            "Sid": "RunTheGlueJob",
            "Effect": "Allow",
            "Action": ["glue:GetJob", "glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
            "Resource": target.arn("glue", f"job/{names.glue_job}"),
        },
        {
            "Sid": "ReadTheGlueJobLogs",
            "Effect": "Allow",
            "Action": ["logs:GetLogEvents", "logs:FilterLogEvents"],
            "Resource": target.arn("logs", "log-group:/aws-glue/jobs/*"),
        },
        {
            "Sid": "CountTheBatch",
            "Effect": "Allow",
            "Action": "dynamodb:Query",
            "Resource": f"{table}/index/{names.gsi}",
        },
        {
            "Sid": "HoldTheBatchLease",
            "Effect": "Allow",
            # Taken, released and its load recorded with conditional updates; read to decide and to check.
            "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Resource": target.arn("dynamodb", f"table/{names.lease_table}"),
        },
        {
            "Sid": "PublishFailureAlerts",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": target.arn("sns", names.alerts_topic),
        },
        # SNS encrypts each alert with the topic's key as the publisher (SNS's guide: a publisher to an
        # encrypted topic needs these two), used through SNS only.
        {
            "Sid": "EncryptFailureAlerts",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": alerts_key_arn or pending_arn(target),
            "Condition": {"StringEquals": {"kms:ViaService": f"sns.{target.region_name}.amazonaws.com"}},
        },
        # The quarantine gate's per-batch metrics. PutMetricData has no resource: AWS scopes it by namespace.
        {
            "Sid": "PublishBatchMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
        },
        # The alert callback names the account (sts:GetCallerIdentity), which needs no permission on AWS.
    ]


def _mwaa_statements(target: AwsTarget, environment: str, source_bucket: str) -> list[dict[str, Any]]:
    """What MWAA itself needs of its execution role."""
    region, account, partition = target.region_name, target.account_id, target.partition
    bucket = f"arn:{partition}:s3:::{source_bucket}"
    return [
        {
            "Sid": "MwaaPublishMetrics",
            "Effect": "Allow",
            "Action": "airflow:PublishMetrics",
            "Resource": target.arn("airflow", f"environment/{environment}"),
        },
        {
            "Sid": "MwaaNoBucketListing",
            "Effect": "Deny",
            "Action": "s3:ListAllMyBuckets",
            "Resource": [bucket, f"{bucket}/*"],
        },
        # MWAA's guide grants s3:GetObject*, s3:GetBucket* and s3:List*; these are the calls behind them that
        # apply to a bucket and its objects (the wildcards also match access-point and access-grant actions).
        {
            "Sid": "MwaaReadSourceBucket",
            "Effect": "Allow",
            "Action": [
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:GetBucketLocation",
                "s3:GetBucketVersioning",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetEncryptionConfiguration",
            ],
            "Resource": bucket,
        },
        {
            "Sid": "MwaaReadSourceObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"{bucket}/*",
        },
        {
            "Sid": "MwaaLogs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogStream",
                "logs:CreateLogGroup",
                "logs:PutLogEvents",
                "logs:GetLogEvents",
                "logs:GetLogRecord",
                "logs:GetLogGroupFields",
                "logs:GetQueryResults",
            ],
            "Resource": target.arn("logs", f"log-group:airflow-{environment}-*"),
        },
        {"Sid": "MwaaDescribeLogGroups", "Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"},
        {
            "Sid": "MwaaPublicAccessBlockCheck",
            "Effect": "Allow",
            "Action": "s3:GetAccountPublicAccessBlock",
            "Resource": "*",
        },
        # Airflow's metrics, which MWAA publishes in the AmazonMWAA namespace (MWAA User Guide, "Apache Airflow
        # environment metrics in CloudWatch"): no other namespace, so the DAG's own metrics stay in theirs.
        {
            "Sid": "MwaaMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": MWAA_METRICS_NAMESPACE}},
        },
        # The Celery queues live in an account MWAA owns: the account cannot be named.
        {
            "Sid": "MwaaCeleryQueues",
            "Effect": "Allow",
            "Action": [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
            ],
            "Resource": f"arn:{partition}:sqs:{region}:*:airflow-celery-*",
        },
        # Keys MWAA owns (its queues' encryption), used through SQS only: any account's key but this one's.
        {
            "Sid": "MwaaQueueEncryption",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt"],
            "Resource": f"arn:{partition}:kms:*:*:key/*",
            "Condition": {
                "StringLike": {"kms:ViaService": [f"sqs.{region}.amazonaws.com"]},
                "StringNotEquals": {"aws:ResourceAccount": account},
            },
        },
    ]


def execution_policy(
    target: AwsTarget, names: PipelineNames, environment: str, source_bucket: str, alerts_key_arn: str | None = None
) -> dict[str, Any]:
    """The execution role's inline policy for ``environment`` reading its DAGs from ``source_bucket``;
    ``alerts_key_arn``: the alerts topic's key, when it is known (``keys.key_arn``)."""
    return {
        "Version": "2012-10-17",
        "Statement": _pipeline_statements(target, names, alerts_key_arn)
        + _mwaa_statements(target, environment, source_bucket),
    }
