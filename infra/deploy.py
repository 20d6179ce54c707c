"""deploy / destroy / status of one stage: each a walk over the one description (infra/resources.py)."""

from __future__ import annotations

from typing import Any

from employee_pipeline.config import PipelineNames
from infra import monitoring, mwaa_role
from infra.actions import Action, planned
from infra.keys import Key, key_arn
from infra.mwaa.environment import Environment, MwaaSpec, mwaa_resources
from infra.resources import GLUE_PACKAGE_KEY, GLUE_SCRIPT_KEY, Resource, stage_resources
from infra.session import AwsTarget


def described(
    target: AwsTarget, names: PipelineNames, mwaa: tuple[str, str] | None = None, environment: MwaaSpec | None = None
) -> tuple[Resource, ...]:
    """The stage's resources, then with ``environment`` its MWAA part (which implies the execution role)."""
    if environment is None:
        return stage_resources(target, names, mwaa)
    resources = stage_resources(target, names, (environment.environment, environment.source_bucket))
    return resources + mwaa_resources(names, environment, names.mwaa_execution_role)


def deploy(
    target: AwsTarget,
    names: PipelineNames,
    *,
    apply: bool = True,
    mwaa: tuple[str, str] | None = None,
    environment: MwaaSpec | None = None,
) -> tuple[list[Action], dict[str, Any]]:
    """Create or converge every resource, in order; each Action says what changed. ``apply=False``
    (deploy --plan): read and compare only, change nothing; the Actions say create/update/unchanged and the
    outputs are the ARNs the resources have or would get. ``mwaa`` = (environment, source bucket): also the
    MWAA environment's execution role; ``environment``: also the environment itself, its network, source
    bucket and bundle (infra/mwaa/environment.py), and the role. The plan walks with ``target.reader()``: its
    clients refuse every operation that is not a read (``WriteRefused``), so a write the ``apply`` guards miss
    fails the plan rather than changing AWS."""
    if not apply:
        target = target.reader()
    actions, arns = [], {}
    walked = described(target, names, mwaa, environment)
    for resource in walked:
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
    if mwaa or environment:
        outputs["mwaa_execution_role_arn"] = arns[names.mwaa_execution_role]
    for resource in walked:
        if isinstance(resource, Environment):
            outputs["mwaa_environment_arn"] = arns.get(resource.name)
            outputs["mwaa_network"] = resource.network_ids(arns)
    return actions, outputs


def _every_resource(target: AwsTarget, names: PipelineNames, poll_s: float | None = None) -> tuple[Any, ...]:
    """The description with the MWAA execution role and the MWAA part under the stage's default names, both
    networks' pieces included: destroy and status cover them whether or not deploy was asked to make them
    (found by name and the stage's tags, so an existing network given to deploy is not among them)."""
    resources = stage_resources(target, names, mwaa_role.default_environment(names))
    spec = MwaaSpec.default(names) if poll_s is None else MwaaSpec.default(names, poll_s=poll_s)
    resources += mwaa_resources(names, spec, names.mwaa_execution_role, every_network=True)
    return tuple(r for r in resources if r.owned)


def destroy(target: AwsTarget, names: PipelineNames, poll_s: float | None = None) -> list[Action]:
    """Remove every resource, backwards: the MWAA environment first (waited until gone), then its network in
    dependency order, non-empty (versioned) buckets, the MWAA execution role if deploy made one. Objects go
    with their bucket; the account-wide Glue log groups stay."""
    actions = (resource.destroy(target) for resource in reversed(_every_resource(target, names, poll_s)))
    return [action for action in actions if action is not None]


def status(target: AwsTarget, names: PipelineNames) -> list[dict[str, Any]]:
    """Which of the stage's resources exist; an alarm also with its state (OK, ALARM, INSUFFICIENT_DATA), the
    KMS key with its ARN."""
    found = []
    for r in _every_resource(target, names):
        if isinstance(r, monitoring.Alarm):
            state = r.state(target)
            found.append({"resource": r.kind, "name": r.name, "exists": state is not None, "state": state})
        elif isinstance(r, Key):  # its ARN, which the MWAA execution role's policy names
            arn = key_arn(target, r.name)
            found.append({"resource": r.kind, "name": r.name, "exists": arn is not None, "arn": arn})
        else:
            found.append({"resource": r.kind, "name": r.name, "exists": r.exists(target)})
    return found
