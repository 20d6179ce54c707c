"""deploy / destroy / status of one stage: every AWS resource of the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from employee_pipeline.config import PipelineNames
from employee_pipeline.layout import XCOM_PREFIX, XCOM_RETENTION_DAYS
from infra import compute, iam, log_groups, mwaa_role, notifications, packaging, storage, table, tagging
from infra.actions import Action, planned
from infra.session import AwsTarget, if_exists

GLUE_SCRIPT_KEY = "glue/ingest_employees.py"
LAYER_KEY = "lambda/faker-layer.zip"
# Lambda package -> (handler, timeout s, memory MB, needs the Faker layer)
FUNCTIONS = {
    "generator": ("generator.handler.handler", 60, 512, True),
    "writer": ("writer.handler.handler", 60, 256, False),
}


def _function_name(names: PipelineNames, package: str) -> str:
    return {"generator": names.generator_function, "writer": names.writer_function}[package]


def _function_role(names: PipelineNames, package: str) -> str:
    return {"generator": names.generator_role, "writer": names.writer_role}[package]


def _roles(names: PipelineNames) -> tuple[str, ...]:
    return (names.generator_role, names.writer_role, names.glue_role)


def _lambda_log_groups(names: PipelineNames) -> list[str]:
    return [log_groups.lambda_group(_function_name(names, p)) for p in FUNCTIONS]


def deploy(
    target: AwsTarget, names: PipelineNames, *, apply: bool = True, mwaa: tuple[str, str] | None = None
) -> tuple[list[Action], dict[str, Any]]:
    """Create or converge every resource; each Action says what changed. ``apply=False`` (deploy --plan):
    read and compare only, change nothing; the Actions say create/update/unchanged and the outputs are the
    ARNs the resources have or would get. ``mwaa`` = (environment, source bucket): also the MWAA
    environment's execution role."""
    tags = tagging.stage_tags(names)
    actions = [
        storage.ensure_bucket(
            target, names.data_bucket, {f"{XCOM_PREFIX}/": XCOM_RETENTION_DAYS}, tags=tags, apply=apply
        ),
        storage.ensure_bucket(target, names.artifacts_bucket, tags=tags, apply=apply),
    ]

    script = packaging.glue_script()
    layer_zip = packaging.faker_layer_zip()
    zips = {package: packaging.lambda_zip(package) for package in FUNCTIONS}
    uploads = {GLUE_SCRIPT_KEY: script, LAYER_KEY: layer_zip, **{f"lambda/{a.name}": a for a in zips.values()}}
    for key, artifact in uploads.items():
        actions.append(storage.ensure_artifact(target, names.artifacts_bucket, key, artifact, apply=apply))

    for role, (service, policy) in iam.role_policies(target, names).items():
        actions.append(iam.ensure_role(target, role, service, policy, tags=tags, apply=apply))
    arn_of = iam.role_arn if apply else iam.expected_role_arn
    role_arns = {role: arn_of(target, role) for role in _roles(names)}
    glue_role = role_arns[names.glue_role]

    # The roles may not create log groups: each group exists, with its retention, before anything logs.
    actions += [log_groups.ensure_log_group(target, g, tags, apply=apply) for g in _lambda_log_groups(names)]
    actions += [log_groups.ensure_shared_log_group(target, g, apply=apply) for g in log_groups.GLUE_SHARED_GROUPS]

    layer_action, layer_arn = compute.ensure_layer(
        target, names.faker_layer, names.artifacts_bucket, LAYER_KEY, layer_zip, apply=apply
    )
    actions.append(layer_action)
    function_arns = {}
    for package, (handler, timeout, memory, needs_faker) in FUNCTIONS.items():
        spec = compute.FunctionSpec(
            name=_function_name(names, package),
            handler=handler,
            role_arn=role_arns[_function_role(names, package)],
            code_bucket=names.artifacts_bucket,
            code_key=f"lambda/{zips[package].name}",
            code=zips[package],
            timeout=timeout,
            memory=memory,
            environment={"DATA_BUCKET": names.data_bucket},
            layers=[layer_arn] if needs_faker else [],
            tags=tags,
        )
        action, function_arns[package] = compute.ensure_function(target, spec, apply=apply)
        actions.append(action)

    script_location = f"s3://{names.artifacts_bucket}/{GLUE_SCRIPT_KEY}"
    definition = compute.glue_job_definition(
        glue_role,
        script_location,
        {
            "--job-language": "python",
            "--job-bookmark-option": "job-bookmark-disable",
            "--enable-metrics": "true",
            "--enable-continuous-cloudwatch-log": "true",
            "--bucket": names.data_bucket,
            "--table": names.table,
            "--lease_table": names.lease_table,
        },
    )
    actions.append(compute.ensure_glue_job(target, names.glue_job, definition, tags, apply=apply))
    actions.append(table.ensure_table(target, names.table, tags, apply=apply))
    actions.append(table.ensure_lease_table(target, names.lease_table, tags, apply=apply))
    actions.append(notifications.ensure_topic(target, names.alerts_topic, tags, apply=apply))
    if mwaa:
        actions.append(mwaa_role.ensure_execution_role(target, names, *mwaa, apply=apply))
    if not apply:
        actions = [planned(a) for a in actions]

    outputs = {
        **names.as_dict(),
        "region": target.region_name,
        "endpoint_url": target.endpoint_url,
        "generator_function_arn": function_arns["generator"],
        "writer_function_arn": function_arns["writer"],
        "faker_layer_version_arn": layer_arn,
        "generator_role_arn": role_arns[names.generator_role],
        "writer_role_arn": role_arns[names.writer_role],
        "glue_role_arn": glue_role,
        "glue_script": script_location,
        "table_arn": target.arn("dynamodb", f"table/{names.table}"),
        "lease_table_arn": target.arn("dynamodb", f"table/{names.lease_table}"),
        "alerts_topic_arn": notifications.topic_arn(target, names.alerts_topic),
    }
    if mwaa:
        arn_of = iam.role_arn if apply else iam.expected_role_arn
        outputs["mwaa_execution_role_arn"] = arn_of(target, mwaa_role.role_name(names))
    return actions, outputs


def destroy(target: AwsTarget, names: PipelineNames) -> list[Action]:
    """Remove every resource, non-empty (versioned) buckets included, and the MWAA execution role if deploy
    made one. The account-wide Glue log groups stay: every Glue job of the account writes to them."""
    return [
        compute.destroy_glue_job(target, names.glue_job),
        *(compute.destroy_function(target, _function_name(names, p)) for p in FUNCTIONS),
        *(log_groups.destroy_log_group(target, group) for group in _lambda_log_groups(names)),
        compute.destroy_layer(target, names.faker_layer),
        table.destroy_table(target, names.table),
        table.destroy_table(target, names.lease_table),
        notifications.destroy_topic(target, names.alerts_topic),
        *(iam.destroy_role(target, role) for role in (*_roles(names), mwaa_role.role_name(names))),
        *(storage.destroy_bucket(target, b) for b in (names.data_bucket, names.artifacts_bucket)),
    ]


def _true_or_none(check: Callable[..., bool], *args: Any) -> bool | None:
    return check(*args) or None


def status(target: AwsTarget, names: PipelineNames) -> list[dict[str, Any]]:
    """Which resources exist."""
    s3, lam = target.client("s3"), target.client("lambda")
    glue, ddb, iam_client = target.client("glue"), target.client("dynamodb"), target.client("iam")
    sns, topic = target.client("sns"), notifications.topic_arn(target, names.alerts_topic)
    checks = [
        ("s3_bucket", names.data_bucket, lambda: storage.bucket_exists(s3, names.data_bucket) or None),
        ("s3_bucket", names.artifacts_bucket, lambda: storage.bucket_exists(s3, names.artifacts_bucket) or None),
        *(("iam_role", role, partial(iam_client.get_role, RoleName=role)) for role in _roles(names)),
        *(
            ("log_group", group, partial(_true_or_none, log_groups.log_group_exists, target, group))
            for group in _lambda_log_groups(names)
        ),
        (
            "lambda_layer",
            names.faker_layer,
            lambda: lam.list_layer_versions(LayerName=names.faker_layer)["LayerVersions"] or None,
        ),
        ("lambda_function", names.generator_function, lambda: lam.get_function(FunctionName=names.generator_function)),
        ("lambda_function", names.writer_function, lambda: lam.get_function(FunctionName=names.writer_function)),
        ("glue_job", names.glue_job, lambda: glue.get_job(JobName=names.glue_job)),
        ("dynamodb_table", names.table, lambda: ddb.describe_table(TableName=names.table)),
        ("dynamodb_table", names.lease_table, lambda: ddb.describe_table(TableName=names.lease_table)),
        ("sns_topic", names.alerts_topic, lambda: sns.get_topic_attributes(TopicArn=topic)),
    ]
    missing = ("NoSuchEntity", "ResourceNotFoundException", "EntityNotFoundException", "NotFound")
    return [
        {"resource": kind, "name": name, "exists": if_exists(check, missing) is not None}
        for kind, name, check in checks
    ]
