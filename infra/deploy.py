"""deploy / destroy / status of one stage: each a walk over the one description (infra/resources.py)."""

from __future__ import annotations

from typing import Any

from employee_pipeline.config import PipelineNames
from infra import mwaa_role
from infra.actions import Action, planned
from infra.resources import GLUE_PACKAGE_KEY, GLUE_SCRIPT_KEY, stage_resources
from infra.session import AwsTarget


def deploy(
    target: AwsTarget, names: PipelineNames, *, apply: bool = True, mwaa: tuple[str, str] | None = None
) -> tuple[list[Action], dict[str, Any]]:
    """Create or converge every resource, in order; each Action says what changed. ``apply=False``
    (deploy --plan): read and compare only, change nothing; the Actions say create/update/unchanged and the
    outputs are the ARNs the resources have or would get. ``mwaa`` = (environment, source bucket): also the
    MWAA environment's execution role. The plan walks with ``target.reader()``: its clients refuse every
    operation that is not a read (``WriteRefused``), so a write the ``apply`` guards miss fails the plan
    rather than changing AWS."""
    if not apply:
        target = target.reader()
    actions, arns = [], {}
    for resource in stage_resources(target, names, mwaa):
        action, arn = resource.ensure(target, arns, apply=apply)
        actions.append(action if apply else planned(action))
        if arn:
            arns[resource.name] = arn
    outputs = {
        **names.as_dict(),
        "region": target.region_name,
        "endpoint_url": target.endpoint_url,
        "generator_function_arn": arns[names.generator_function],
        "writer_function_arn": arns[names.writer_function],
        "faker_layer_version_arn": arns[names.faker_layer],
        "generator_role_arn": arns[names.generator_role],
        "writer_role_arn": arns[names.writer_role],
        "glue_role_arn": arns[names.glue_role],
        "glue_script": f"s3://{names.artifacts_bucket}/{GLUE_SCRIPT_KEY}",
        "glue_package": f"s3://{names.artifacts_bucket}/{GLUE_PACKAGE_KEY}",
        "table_arn": arns[names.table],
        "lease_table_arn": arns[names.lease_table],
        "alerts_topic_arn": arns[names.alerts_topic],
    }
    if mwaa:
        outputs["mwaa_execution_role_arn"] = arns[names.mwaa_execution_role]
    return actions, outputs


def _every_resource(target: AwsTarget, names: PipelineNames) -> tuple[Any, ...]:
    """The description with the MWAA execution role, which destroy and status cover whether or not deploy
    was asked to make it (its policy does not matter to them)."""
    return tuple(r for r in stage_resources(target, names, mwaa_role.default_environment(names)) if r.owned)


def destroy(target: AwsTarget, names: PipelineNames) -> list[Action]:
    """Remove every resource, backwards: non-empty (versioned) buckets included, the MWAA execution role if
    deploy made one. Objects go with their bucket; the account-wide Glue log groups stay."""
    actions = (resource.destroy(target) for resource in reversed(_every_resource(target, names)))
    return [action for action in actions if action is not None]


def status(target: AwsTarget, names: PipelineNames) -> list[dict[str, Any]]:
    """Which of the stage's resources exist."""
    return [{"resource": r.kind, "name": r.name, "exists": r.exists(target)} for r in _every_resource(target, names)]
