"""The stage's one description (infra/resources.py): what deploy, plan, destroy and status walk."""

from __future__ import annotations

import pytest

from employee_pipeline import config
from employee_pipeline.config import pipeline_names
from infra import compute, log_groups, resources
from infra.session import AwsTarget

NAMES = pipeline_names("unit")


@pytest.fixture
def described() -> tuple[resources.Resource, ...]:
    target = AwsTarget(region="eu-west-1", _account="123456789012")
    return resources.stage_resources(target, NAMES, ("env", "airflow-env"))


def test_every_resource_is_named_once(described) -> None:
    keys = [(r.kind, r.name) for r in described]
    assert len(keys) == len(set(keys))
    assert {r.name for r in described} >= {
        NAMES.data_bucket,
        NAMES.artifacts_bucket,
        NAMES.generator_role,
        NAMES.writer_role,
        NAMES.glue_role,
        NAMES.generator_function,
        NAMES.writer_function,
        NAMES.faker_layer,
        NAMES.glue_job,
        NAMES.table,
        NAMES.lease_table,
        NAMES.alerts_topic,
        NAMES.mwaa_execution_role,
    }


def test_a_resource_refers_only_to_resources_walked_before_it(described) -> None:
    seen: set[str] = set()
    for resource in described:
        wanted = {getattr(resource, "role", None), *getattr(resource, "layers", ())} - {None}
        for part in ("code", "script"):
            if hasattr(resource, part):
                wanted.add(getattr(resource, part).name)
        assert wanted <= seen, f"{resource.kind} {resource.name} needs {wanted - seen} first"
        seen.add(resource.name)


def test_every_owned_taggable_resource_carries_the_stage_tags(described) -> None:
    taggable = [r for r in described if hasattr(r, "tags") and r.owned]
    assert len(taggable) == 18  # 2 buckets, 4 roles, 2 log groups, 2 functions, job, 2 tables, key, topic, 3 alarms
    assert all(dict(r.tags) == {"project": NAMES.prefix, "stage": NAMES.stage} for r in taggable)


def test_only_the_account_wide_glue_groups_are_left_to_the_account(described) -> None:
    assert {r.name for r in described if not r.owned} == set(log_groups.GLUE_SHARED_GROUPS)
    assert all(r.retention_days == log_groups.LOG_RETENTION_DAYS for r in described if r.kind == "log_group")


def test_the_lambdas_and_the_job_are_wired_to_the_stage(described) -> None:
    by_name = {r.name: r for r in described}
    generator, writer = by_name[NAMES.generator_function], by_name[NAMES.writer_function]
    assert (generator.role, generator.layers) == (NAMES.generator_role, (NAMES.faker_layer,))
    assert (writer.role, writer.layers) == (NAMES.writer_role, ())
    assert generator.code.name == f"s3://{NAMES.artifacts_bucket}/lambda/generator.zip"
    job = by_name[NAMES.glue_job]
    assert job.role == NAMES.glue_role and job.script.name.endswith("/glue/ingest_employees.py")
    # The script's package ships beside it, an artifact deploy uploads before it defines the job.
    package = job.arguments["--extra-py-files"]
    assert package == f"s3://{NAMES.artifacts_bucket}/{resources.GLUE_PACKAGE_KEY}"
    assert by_name[package].kind == "s3_artifact" and by_name[package].build().name == "employee_ingest.zip"
    assert list(by_name).index(package) < list(by_name).index(NAMES.glue_job)
    assert {job.arguments[k] for k in ("--bucket", "--table", "--lease_table")} == {
        NAMES.data_bucket,
        NAMES.table,
        NAMES.lease_table,
    }


def test_the_execution_role_is_described_only_when_asked() -> None:
    target = AwsTarget(region="eu-west-1", _account="123456789012")
    assert NAMES.mwaa_execution_role not in {r.name for r in resources.stage_resources(target, NAMES)}


def test_describing_builds_no_artifact(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("an artifact was built to describe the stage")

    for builder in ("lambda_zip", "faker_layer_zip", "glue_script", "glue_package_zip"):
        monkeypatch.setattr(resources.packaging, builder, refuse)
    target = AwsTarget(region="eu-west-1", _account="123456789012")
    resources.stage_resources(target, NAMES)


def test_values_the_dag_and_infra_share_come_from_the_config_module() -> None:
    definition = compute.glue_job_definition("arn:role", "s3://b/k", {})
    assert definition["ExecutionProperty"]["MaxConcurrentRuns"] == config.GLUE_CONCURRENT_RUNS
    assert definition["Timeout"] == config.GLUE_TIMEOUT_MINUTES


def test_the_glue_job_is_defined_for_glue_5_logging(described) -> None:
    """Glue 5.0 logs every job in real time to /aws-glue/jobs/output and /error (streams <run id>-driver,
    <run id>-<executor id>): continuous logging and its logs-v2 group belong to Glue 4.0 and earlier."""
    (job,) = [r for r in described if r.kind == "glue_job"]
    definition = compute.glue_job_definition("arn:role", "s3://b/k", dict(job.arguments))
    assert definition["GlueVersion"] == "5.0"
    continuous = ("--enable-continuous-cloudwatch-log", "--enable-continuous-log-filter", "--continuous-log-")
    assert not [arg for arg in definition["DefaultArguments"] if arg.startswith(continuous)]
    assert log_groups.GLUE_SHARED_GROUPS == ("/aws-glue/jobs/output", "/aws-glue/jobs/error")
