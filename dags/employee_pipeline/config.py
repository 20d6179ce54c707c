"""The one source of resource names: stage + prefix -> every AWS name; and of every value two places share.

Used by ``infra`` (to create the resources), the DAG and its operators (to address them at run
time), the local run and the tests, so a name is spelled in exactly one place: here, or in
``layout`` for the data layout the Lambdas share. The Glue script, which cannot import either on
Glue, is held to them by a test; ``tests/unit/test_names_spelled_once.py`` finds a new copy anywhere else.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

DAG_ID = "employee_batch_pipeline"
# The Airflow connection every AWS call of the DAG uses (on MWAA: the execution role).
AWS_CONN_ID = "aws_default"
DEFAULT_PREFIX = "employee-pipeline"
DEFAULT_STAGE = "dev"
# Airflow Variables the DAG reads at run time (never at parse time).
STAGE_VARIABLE = "employee_pipeline_stage"
PREFIX_VARIABLE = "employee_pipeline_prefix"
DEPLOYMENT_VARIABLE = "employee_pipeline_deployment"  # which Airflow a lease owner belongs to

GSI_NAME = "batch_shard-index"
GSI_KEY = "batch_shard"
TABLE_KEY = "emp_id"
# Every item carries the id of the load that wrote it (the Glue job run); the GSI projects it,
# so the count check can tell this run's items from any other.
LOAD_ATTRIBUTE = "load_id"
# The lease table's key: one item per batch while a run holds it.
LEASE_KEY = "batch_id"

# Values the DAG, the lease and infra share.
MAX_ACTIVE_RUNS = 3  # scheduled and manual runs at once (a backfill has its own limit)
# The Glue job's MaxConcurrentRuns, and how many ingest tasks may be running or deferred at once across
# every run of the DAG, backfills included (Airflow counts deferred tasks for max_active_tis_per_dag):
# Airflow never starts more loads than Glue accepts.
GLUE_CONCURRENT_RUNS = 3
DAGRUN_TIMEOUT_S = 2 * 3600
GLUE_TIMEOUT_MINUTES = 60  # the Glue job's own Timeout; the deferred ingest waits as long
# The lease outlives any load its run can start: a run is failed at DAGRUN_TIMEOUT_S, and a Glue run
# it started just before then ends within GLUE_TIMEOUT_MINUTES. A holder that crashed frees it by then.
LEASE_SECONDS = DAGRUN_TIMEOUT_S + GLUE_TIMEOUT_MINUTES * 60
GLUE_POLL_S = 5  # how often the triggerer asks Glue for the run's state
# Freshness: a run not finished this long after its data interval ends alerts the stage's SNS topic once.
FRESHNESS_DEADLINE_MINUTES = 30

# CloudWatch: the metrics each batch publishes (dimension ``stage``), which infra's alarms and dashboard read.
METRICS_NAMESPACE = "EmployeePipeline"
METRIC_DIMENSION = "stage"
METRIC_ROWS_READ = "RowsRead"
METRIC_ROWS_LOADED = "RowsLoaded"
METRIC_ROWS_QUARANTINED = "RowsQuarantined"
METRIC_QUARANTINED_FRACTION = "QuarantinedFraction"
METRIC_GLUE_LOAD_SECONDS = "GlueLoadSeconds"
METRIC_DYNAMODB_RETRIES = "DynamoDBRetries"
METRIC_LATENCY_SECONDS = "EndToEndLatencySeconds"  # from the end of the batch's hour to its passed count check
METRIC_BATCHES_LOADED = "BatchesLoaded"
METRIC_FAILED_RUNS = "FailedRuns"
# The quarantined share a batch may have: the DAG's max_quarantine_fraction default and the alarm's threshold.
DEFAULT_MAX_QUARANTINE_FRACTION = 0.0

# The DAG's Param defaults, which the demo (and ``make demo``) also run with.
DEFAULT_SHARDS = 2
DEFAULT_RECORDS_PER_SHARD = 500

_NAME_PART = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")

# The longest name each service accepts: S3's bucket naming rules; the API references of IAM
# (RoleName), Lambda (FunctionName: 64 for a name alone; LayerName), Glue (CreateJob Name),
# DynamoDB (TableName), SNS (CreateTopic Name), CloudWatch Logs (logGroupName), MWAA
# (CreateEnvironment Name) and CloudWatch (PutMetricAlarm AlarmName, PutDashboard DashboardName).
S3_BUCKET, IAM_ROLE, LAMBDA_FUNCTION, LAMBDA_LAYER = "S3 bucket", "IAM role", "Lambda function", "Lambda layer"
GLUE_JOB, DYNAMODB_TABLE, SNS_TOPIC = "Glue job", "DynamoDB table", "SNS topic"
LOG_GROUP, MWAA_ENVIRONMENT = "CloudWatch log group", "MWAA environment"
CLOUDWATCH_ALARM, CLOUDWATCH_DASHBOARD = "CloudWatch alarm", "CloudWatch dashboard"
NAME_LIMITS = {
    S3_BUCKET: 63,
    IAM_ROLE: 64,
    LAMBDA_FUNCTION: 64,
    LAMBDA_LAYER: 140,
    GLUE_JOB: 255,
    DYNAMODB_TABLE: 255,
    SNS_TOPIC: 256,
    LOG_GROUP: 512,
    MWAA_ENVIRONMENT: 80,
    CLOUDWATCH_ALARM: 255,
    CLOUDWATCH_DASHBOARD: 255,
}
LAMBDA_LOG_GROUP_PREFIX = "/aws/lambda/"  # where Lambda writes a function's logs


@dataclass(frozen=True)
class PipelineNames:
    """Every resource name of one deployment (stage) of the pipeline."""

    stage: str
    prefix: str
    data_bucket: str
    artifacts_bucket: str
    generator_function: str
    writer_function: str
    faker_layer: str
    generator_role: str
    writer_role: str
    glue_role: str
    glue_job: str
    table: str
    lease_table: str
    alerts_topic: str
    # The stage's MWAA environment, by default (deploy and publish can be given others).
    mwaa_environment: str
    mwaa_source_bucket: str
    mwaa_execution_role: str
    # CloudWatch: the alarms that notify alerts_topic, and the stage's dashboard.
    quarantine_alarm: str
    no_batch_alarm: str
    failed_runs_alarm: str
    dashboard: str
    gsi: str = GSI_NAME

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def kinds(self) -> dict[str, str]:
        """Every AWS name of the stage -> what it names (a ``NAME_LIMITS`` key)."""
        functions = (self.generator_function, self.writer_function)
        return {
            self.data_bucket: S3_BUCKET,
            self.artifacts_bucket: S3_BUCKET,
            self.mwaa_source_bucket: S3_BUCKET,
            self.generator_role: IAM_ROLE,
            self.writer_role: IAM_ROLE,
            self.glue_role: IAM_ROLE,
            self.mwaa_execution_role: IAM_ROLE,
            **dict.fromkeys(functions, LAMBDA_FUNCTION),
            **{f"{LAMBDA_LOG_GROUP_PREFIX}{function}": LOG_GROUP for function in functions},
            self.faker_layer: LAMBDA_LAYER,
            self.glue_job: GLUE_JOB,
            self.table: DYNAMODB_TABLE,
            self.lease_table: DYNAMODB_TABLE,
            self.alerts_topic: SNS_TOPIC,
            self.mwaa_environment: MWAA_ENVIRONMENT,
            **dict.fromkeys((self.quarantine_alarm, self.no_batch_alarm, self.failed_runs_alarm), CLOUDWATCH_ALARM),
            self.dashboard: CLOUDWATCH_DASHBOARD,
        }


def _name_problems(names: PipelineNames) -> list[str]:
    """What AWS would refuse in the stage's names: too long for the service, or (MWAA, S3) a bad first or last
    character the stage or prefix puts there."""
    problems = []
    for name, kind in names.kinds().items():
        if len(name) > NAME_LIMITS[kind]:
            problems.append(f"{kind} name {name!r} is {len(name)} characters, over the limit of {NAME_LIMITS[kind]}")
    if not names.mwaa_environment[0].isalpha():
        problems.append(f"{MWAA_ENVIRONMENT} name {names.mwaa_environment!r} must start with a letter")
    if not names.mwaa_source_bucket[-1].isalnum():
        problems.append(f"{S3_BUCKET} name {names.mwaa_source_bucket!r} must end with a letter or digit")
    return problems


def max_base_length(names: PipelineNames) -> int:
    """The most characters ``{prefix}-{stage}`` may have with these suffixes and limits."""
    base = len(f"{names.prefix}-{names.stage}")
    return min(NAME_LIMITS[kind] - (len(name) - base) for name, kind in names.kinds().items())


def pipeline_names(stage: str = DEFAULT_STAGE, prefix: str = DEFAULT_PREFIX) -> PipelineNames:
    """Derive every resource name from ``stage`` and ``prefix``.

    Both must be lower-case letters, digits and dashes (S3 bucket rules), so
    the same string is valid for every service; ValueError if a name they make
    is one AWS refuses (too long for its service, see ``NAME_LIMITS``).
    """
    for label, value in (("stage", stage), ("prefix", prefix)):
        if not _NAME_PART.match(value or ""):
            raise ValueError(
                f"invalid {label} {value!r}: use 1-31 lower-case letters, digits or dashes, "
                "starting with a letter or digit"
            )
    base = f"{prefix}-{stage}"
    names = PipelineNames(
        stage=stage,
        prefix=prefix,
        data_bucket=f"{base}-data",
        artifacts_bucket=f"{base}-artifacts",
        generator_function=f"{base}-generate",
        writer_function=f"{base}-write",
        faker_layer=f"{base}-faker",
        generator_role=f"{base}-generator",
        writer_role=f"{base}-writer",
        glue_role=f"{base}-glue",
        glue_job=f"{base}-ingest",
        table=f"{base}-employees",
        lease_table=f"{base}-batch-leases",
        alerts_topic=f"{base}-alerts",
        mwaa_environment=base,
        mwaa_source_bucket=f"airflow-{base}",  # MWAA requires the airflow- prefix
        mwaa_execution_role=f"{base}-mwaa-execution",
        quarantine_alarm=f"{base}-quarantined-share",
        no_batch_alarm=f"{base}-no-loaded-batch",
        failed_runs_alarm=f"{base}-failed-runs",
        dashboard=f"{base}-dashboard",
    )
    problems = _name_problems(names)
    if problems:
        too_long = len(base) > max_base_length(names)
        hint = f" (prefix and stage may have {max_base_length(names) - 1} characters together)" if too_long else ""
        raise ValueError(f"stage {stage!r} with prefix {prefix!r} makes names AWS refuses: {'; '.join(problems)}{hint}")
    return names


def deployment_id() -> str:
    """The Airflow deployment this task runs in, part of every lease owner. Call at task run time only.

    Set per deployment (the MWAA environment's name, exported by the bundle's startup script; a local
    AIRFLOW_HOME's own id): two Airflows writing one stage then never take each other's run for their
    own. Unset, the worker's host name stands in, which only makes runs wait for each other's leases.
    """
    import socket

    from airflow.sdk import Variable

    return Variable.get(DEPLOYMENT_VARIABLE, default=None) or f"host-{socket.gethostname()}"


def names_from_variables() -> PipelineNames:
    """The names of the stage the Airflow Variables select. Call at task run time only."""
    from airflow.sdk import Variable

    return pipeline_names(
        stage=Variable.get(STAGE_VARIABLE, default=DEFAULT_STAGE),
        prefix=Variable.get(PREFIX_VARIABLE, default=DEFAULT_PREFIX),
    )
