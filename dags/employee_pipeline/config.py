"""The one source of resource names: stage + prefix -> every AWS name.

Used by ``infra`` (to create the resources), the DAG (to address them at run
time) and the tests, so a name is spelled in exactly one place.
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

GSI_NAME = "batch_shard-index"
GSI_KEY = "batch_shard"
TABLE_KEY = "emp_id"
# Every item carries the id of the load that wrote it (the Glue job run); the GSI projects it,
# so the count check can tell this run's items from any other.
LOAD_ATTRIBUTE = "load_id"
# The lease table's key: one item per batch while a run holds it.
LEASE_KEY = "batch_id"

# Values the DAG, the lease and infra share.
MAX_ACTIVE_RUNS = 3  # also the Glue job's MaxConcurrentRuns: backfilled hours load in parallel
DAGRUN_TIMEOUT_S = 2 * 3600
# A lease outlives no run: a run is failed at DAGRUN_TIMEOUT_S, so a crashed holder frees it by then.
LEASE_SECONDS = DAGRUN_TIMEOUT_S
GLUE_TIMEOUT_MINUTES = 60  # the Glue job's own Timeout; the deferred ingest waits as long
GLUE_POLL_S = 5  # how often the triggerer asks Glue for the run's state

_NAME_PART = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


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
    gsi: str = GSI_NAME

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def pipeline_names(stage: str = DEFAULT_STAGE, prefix: str = DEFAULT_PREFIX) -> PipelineNames:
    """Derive every resource name from ``stage`` and ``prefix``.

    Both must be lower-case letters, digits and dashes (S3 bucket rules), so
    the same string is valid for every service.
    """
    for label, value in (("stage", stage), ("prefix", prefix)):
        if not _NAME_PART.match(value or ""):
            raise ValueError(
                f"invalid {label} {value!r}: use 1-31 lower-case letters, digits or dashes, "
                "starting with a letter or digit"
            )
    base = f"{prefix}-{stage}"
    return PipelineNames(
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
    )


def names_from_variables() -> PipelineNames:
    """The names of the stage the Airflow Variables select. Call at task run time only."""
    from airflow.sdk import Variable

    return pipeline_names(
        stage=Variable.get(STAGE_VARIABLE, default=DEFAULT_STAGE),
        prefix=Variable.get(PREFIX_VARIABLE, default=DEFAULT_PREFIX),
    )
