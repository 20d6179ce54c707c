"""Lambda layer, Lambda functions and the Glue job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from employee_pipeline import config
from employee_pipeline.waiting import wait_until
from infra import tagging
from infra.actions import ABSENT, DELETED, Action, Kind, outcome
from infra.packaging import Artifact
from infra.session import AwsTarget, error_code, if_exists

LAMBDA_RUNTIME = "python3.12"
GLUE_VERSION = "5.0"
MAX_CONCURRENT_RUNS = config.GLUE_CONCURRENT_RUNS
# The Glue job's workers, which infra.cost prices (one of them runs the Spark driver).
GLUE_WORKER_TYPE = "G.1X"
GLUE_WORKERS = 2
# A role created seconds ago may not be assumable yet (IAM is eventually consistent).
ROLE_PROPAGATION_SECONDS = 60


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    role_arn: str
    code_bucket: str
    code_key: str
    code: Artifact
    timeout: int
    memory: int
    environment: dict[str, str] = field(default_factory=dict)
    layers: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    def configuration(self) -> dict[str, Any]:
        return {
            "Runtime": LAMBDA_RUNTIME,
            "Role": self.role_arn,
            "Handler": self.handler,
            "Timeout": self.timeout,
            "MemorySize": self.memory,
            "Environment": {"Variables": self.environment},
            "Layers": self.layers,
        }


def ensure_layer(
    target: AwsTarget, name: str, bucket: str, key: str, artifact: Artifact, *, apply: bool = True
) -> tuple[Action, str]:
    """Publish a new layer version only when the zip's hash differs from the latest one. ``apply=False``:
    publish nothing; the ARN is the one the next version would get."""
    client = target.client("lambda")
    versions = _layer_versions(client, name)
    latest = max(versions, key=lambda v: v["Version"]) if versions else None
    if latest:
        current = client.get_layer_version(LayerName=name, VersionNumber=latest["Version"])
        if current["Content"]["CodeSha256"] == artifact.sha256_b64:
            return outcome(Kind.LAMBDA_LAYER, name, True, []), latest["LayerVersionArn"]
    action = outcome(Kind.LAMBDA_LAYER, name, latest is not None, ["new version"])
    if not apply:
        return action, target.arn("lambda", f"layer:{name}:{latest['Version'] + 1 if latest else 1}")
    published = client.publish_layer_version(
        LayerName=name,
        Description="Faker for the employee generator",
        Content={"S3Bucket": bucket, "S3Key": key},
        CompatibleRuntimes=[LAMBDA_RUNTIME],
    )
    return action, published["LayerVersionArn"]


def _layer_versions(client: Any, name: str) -> list[dict[str, Any]]:
    return client.list_layer_versions(LayerName=name).get("LayerVersions", [])


def layer_exists(target: AwsTarget, name: str) -> bool:
    return bool(_layer_versions(target.client("lambda"), name))


def _wait_updated(client: Any, name: str) -> None:
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 60})


def _create_function(client: Any, spec: FunctionSpec) -> None:
    def created() -> bool:
        client.create_function(
            FunctionName=spec.name,
            Code={"S3Bucket": spec.code_bucket, "S3Key": spec.code_key},
            Description="employee batch pipeline",
            Publish=False,
            Tags=spec.tags,
            **spec.configuration(),
        )
        return True

    # A role just created is refused (InvalidParameterValueException) until IAM has propagated it.
    wait_until(
        created,
        timeout=ROLE_PROPAGATION_SECONDS,
        interval=5,
        retry=lambda err: isinstance(err, ClientError) and error_code(err) == "InvalidParameterValueException",
        message=f"Lambda did not accept function {spec.name} with role {spec.role_arn}",
    )
    client.get_waiter("function_active_v2").wait(FunctionName=spec.name, WaiterConfig={"Delay": 2, "MaxAttempts": 60})


def _config_changes(current: dict[str, Any], spec: FunctionSpec) -> list[str]:
    wanted = spec.configuration()
    have = {
        "Runtime": current.get("Runtime"),
        "Role": current.get("Role"),
        "Handler": current.get("Handler"),
        "Timeout": current.get("Timeout"),
        "MemorySize": current.get("MemorySize"),
        "Environment": {"Variables": current.get("Environment", {}).get("Variables", {})},
        "Layers": [layer["Arn"] for layer in current.get("Layers", [])],
    }
    return [key for key in wanted if have[key] != wanted[key]]


def _get_function(client: Any, name: str) -> dict[str, Any] | None:
    return if_exists(lambda: client.get_function(FunctionName=name), ("ResourceNotFoundException",))


def function_exists(target: AwsTarget, name: str) -> bool:
    return _get_function(target.client("lambda"), name) is not None


def ensure_function(target: AwsTarget, spec: FunctionSpec, *, apply: bool = True) -> tuple[Action, str]:
    """Create or converge the function; ``apply=False``: only say what would change (and its ARN)."""
    client = target.client("lambda")
    current = _get_function(client, spec.name)
    if current is None and not apply:
        return outcome(Kind.LAMBDA_FUNCTION, spec.name, False, []), target.arn("lambda", f"function:{spec.name}")
    if current is None:
        _create_function(client, spec)
        return outcome(Kind.LAMBDA_FUNCTION, spec.name, False, []), _function_arn(client, spec.name)
    changes = []
    configuration = current["Configuration"]
    # GetFunction leaves Tags out when the function has none, or (TagsError) when the caller may not list them.
    have = current["Tags"] if "Tags" in current else client.list_tags(Resource=configuration["FunctionArn"])["Tags"]
    lacking = tagging.missing(have, spec.tags)
    if lacking:
        if apply:
            client.tag_resource(Resource=configuration["FunctionArn"], Tags=lacking)
        changes.append(tagging.CHANGE)
    if configuration["CodeSha256"] != spec.code.sha256_b64:
        if apply:
            client.update_function_code(FunctionName=spec.name, S3Bucket=spec.code_bucket, S3Key=spec.code_key)
            _wait_updated(client, spec.name)
        changes.append("code")
    config_changes = _config_changes(configuration, spec)
    if config_changes:
        if apply:
            client.update_function_configuration(FunctionName=spec.name, **spec.configuration())
            _wait_updated(client, spec.name)
        changes += [c.lower() for c in config_changes]
    return outcome(Kind.LAMBDA_FUNCTION, spec.name, True, changes), configuration["FunctionArn"]


def _function_arn(client: Any, name: str) -> str:
    return client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def destroy_function(target: AwsTarget, name: str) -> Action:
    client = target.client("lambda")
    if _get_function(client, name) is None:
        return Action(Kind.LAMBDA_FUNCTION, name, ABSENT)
    client.delete_function(FunctionName=name)
    return Action(Kind.LAMBDA_FUNCTION, name, DELETED)


def destroy_layer(target: AwsTarget, name: str) -> Action:
    client = target.client("lambda")
    versions = _layer_versions(client, name)
    for version in versions:
        client.delete_layer_version(LayerName=name, VersionNumber=version["Version"])
    return Action(Kind.LAMBDA_LAYER, name, DELETED if versions else ABSENT)


def glue_job_definition(role_arn: str, script_location: str, default_arguments: dict[str, str]) -> dict[str, Any]:
    """The job as create_job/update_job take it (Glue 5.0: Spark 3.5, Python 3.11)."""
    return {
        "Role": role_arn,
        "Command": {"Name": "glueetl", "ScriptLocation": script_location, "PythonVersion": "3"},
        "GlueVersion": GLUE_VERSION,
        "WorkerType": GLUE_WORKER_TYPE,
        "NumberOfWorkers": GLUE_WORKERS,
        # As many runs as the DAG's max_active_runs: different hours load in parallel (backfills);
        # a retried task re-attaches to its batch's running run (task UUID) instead of starting another.
        "ExecutionProperty": {"MaxConcurrentRuns": MAX_CONCURRENT_RUNS},
        # Airflow owns retries; a Glue-side retry would race the task's own.
        "MaxRetries": 0,
        "Timeout": config.GLUE_TIMEOUT_MINUTES,
        "DefaultArguments": default_arguments,
        "Description": "employee batch pipeline: S3 JSON Lines -> DynamoDB",
    }


def _get_job(glue: Any, name: str) -> dict[str, Any] | None:
    return if_exists(lambda: glue.get_job(JobName=name), ("EntityNotFoundException",))


def glue_job_exists(target: AwsTarget, name: str) -> bool:
    return _get_job(target.client("glue"), name) is not None


def ensure_glue_job(
    target: AwsTarget, name: str, definition: dict[str, Any], tags: dict[str, str], *, apply: bool = True
) -> Action:
    glue = target.client("glue")
    current = _get_job(glue, name)
    if current is None:
        if apply:
            glue.create_job(Name=name, Tags=tags, **definition)
        return outcome(Kind.GLUE_JOB, name, False, [])
    job = current["Job"]
    changes = [key.lower() for key, value in definition.items() if job.get(key) != value]
    if changes and apply:
        glue.update_job(JobName=name, JobUpdate=definition)
    arn = target.arn("glue", f"job/{name}")
    lacking = tagging.missing(glue.get_tags(ResourceArn=arn).get("Tags", {}), tags)
    if lacking:
        if apply:
            glue.tag_resource(ResourceArn=arn, TagsToAdd=lacking)
        changes.append(tagging.CHANGE)
    return outcome(Kind.GLUE_JOB, name, True, changes)


def destroy_glue_job(target: AwsTarget, name: str) -> Action:
    glue = target.client("glue")
    if _get_job(glue, name) is None:
        return Action(Kind.GLUE_JOB, name, ABSENT)
    glue.delete_job(JobName=name)
    return Action(Kind.GLUE_JOB, name, DELETED)
