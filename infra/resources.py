"""A stage's resources as data: one description (names, settings, policies, tags) that ``deploy``,
``deploy --plan``, ``destroy`` and ``status`` all walk (infra/deploy.py).

Each resource is a frozen dataclass with three verbs: ``ensure`` (create or converge; with ``apply=False``
only compare, on a target whose clients refuse writes: ``AwsTarget.reader()``), ``destroy`` and ``exists``.
A resource that needs another's ARN names it; the walk passes the ARNs made so far. Artifacts (zips, the
Glue script) are built only when a walk needs their bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any, ClassVar, Protocol

from employee_pipeline.config import PipelineNames
from employee_pipeline.layout import DATA_BUCKET_ENV, XCOM_PREFIX, XCOM_RETENTION_DAYS
from infra import compute, iam, log_groups, monitoring, mwaa_role, notifications, packaging, storage, table, tagging
from infra.actions import Action, Kind
from infra.keys import Key, alias_name, pending_arn
from infra.packaging import Artifact
from infra.session import AwsTarget

GLUE_SCRIPT_KEY = "glue/ingest_employees.py"
GLUE_PACKAGE_KEY = "glue/employee_ingest.zip"  # the script's package, on the job's Python path
LAYER_KEY = "lambda/faker-layer.zip"
LAMBDA_TIMEOUT_S = 60
# The generator holds a shard of records and Faker in memory; the writer only streams them to S3.
LAMBDA_MEMORY_MB = {"generator": 512, "writer": 256}

Arns = Mapping[str, str]  # resource name -> ARN, of the resources walked so far


class Resource(Protocol):
    kind: ClassVar[Kind]
    name: str
    owned: ClassVar[bool]  # False: shared with the account, so destroy and status leave it out

    def ensure(self, target: AwsTarget, arns: Arns, *, apply: bool) -> tuple[Action, str | None]: ...
    def destroy(self, target: AwsTarget) -> Action | None: ...
    def exists(self, target: AwsTarget) -> bool: ...


@dataclass(frozen=True)
class Bucket:
    """Versioned, encrypted, TLS-only, public access blocked; ``expire``: prefix -> days."""

    name: str
    tags: Mapping[str, str]
    expire: Mapping[str, int] = field(default_factory=dict)
    kind: ClassVar[Kind] = Kind.S3_BUCKET
    owned: ClassVar[bool] = True

    def ensure(self, target: AwsTarget, arns: Arns, *, apply: bool) -> tuple[Action, str | None]:
        action = storage.ensure_bucket(target, self.name, dict(self.expire), tags=dict(self.tags), apply=apply)
        return action, f"arn:{target.partition}:s3:::{self.name}"

    def destroy(self, target: AwsTarget) -> Action:
        return storage.destroy_bucket(target, self.name)

    def exists(self, target: AwsTarget) -> bool:
        return storage.bucket_exists(target.client("s3"), self.name)


@dataclass(frozen=True)
class Object:
    """An artifact uploaded to ``bucket``; destroying the bucket removes it."""

    bucket: str
    key: str
    build: Callable[[], Artifact]
    kind: ClassVar[Kind] = Kind.S3_ARTIFACT
    owned: ClassVar[bool] = True

    @property
    def name(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def ensure(self, target: AwsTarget, arns: Arns, *, apply: bool) -> tuple[Action, str | None]:
        return storage.ensure_artifact(target, self.bucket, self.key, self.build(), apply=apply), None

    def destroy(self, target: AwsTarget) -> None:
        return None

    def exists(self, target: AwsTarget) -> bool:
        return storage.object_exists(target.client("s3"), self.bucket, self.key)


@dataclass(frozen=True)
class Role:
    """Trusted by ``service`` (one or several); one inline ``policy``. ``late``: text of the policy that stands
    for the ARN of a resource walked before (stand-in -> resource name), put in its place by ``ensure``."""

    name: str
    service: str | list[str]
    policy: Mapping[str, Any]
    tags: Mapping[str, str]
    late: Mapping[str, str] = field(default_factory=dict)
    kind: ClassVar[Kind] = Kind.IAM_ROLE
    owned: ClassVar[bool] = True

    def ensure(self, target: AwsTarget, arns: Arns, *, apply: bool) -> tuple[Action, str | None]:
        text = json.dumps(self.policy)
        for stand_in, resource in self.late.items():
            text = text.replace(stand_in, arns.get(resource, stand_in))  # a plan before the key: the stand-in
        return iam.ensure_role(target, self.name, self.service, json.loads(text), dict(self.tags), apply=apply)

    def destroy(self, target: AwsTarget) -> Action:
        return iam.destroy_role(target, self.name)

    def exists(self, target: AwsTarget) -> bool:
        return iam.role_exists(target, self.name)


@dataclass(frozen=True)
class LogGroup:
    """A group the stage owns, with its retention; removed by destroy."""

    name: str
    tags: Mapping[str, str]
    retention_days: int = log_groups.LOG_RETENTION_DAYS
    kind: ClassVar[Kind] = Kind.LOG_GROUP
    owned: ClassVar[bool] = True

    def ensure(self, target: AwsTarget, arns: Arns, *, apply: bool) -> tuple[Action, str | None]:
        action = log_groups.ensure_log_group(target, self.name, dict(self.tags), self.retention_days, apply=apply)
        return action, None

    def destroy(self, target: AwsTarget) -> Action:
        return log_groups.destroy_log_group(target, self.name)

    def exists(self, target: AwsTarget) -> bool:
        return log_groups.log_group_exists(target, self.name)


@dataclass(frozen=True)
class SharedLogGroup(LogGroup):
    """An account-wide group (every Glue job of the account writes there): created when absent, never
    changed or deleted."""

    tags: Mapping[str, str] = field(default_factory=dict)
    owned: ClassVar[bool] = False

    def ensure(self, target: AwsTarget, arns: Arns, *, apply: bool) -> tuple[Action, str | None]:
        return log_groups.ensure_shared_log_group(target, self.name, self.retention_days, apply=apply), None

    def destroy(self, target: AwsTarget) -> None:
        return None


@dataclass(frozen=True)
class Layer:
    """A new version is published only when the zip differs from the latest one."""

    name: str
    code: Object
    kind: ClassVar[Kind] = Kind.LAMBDA_LAYER
    owned: ClassVar[bool] = True

    def ensure(self, target: AwsTarget, arns: Arns, *, apply: bool) -> tuple[Action, str | None]:
        code = self.code
        return compute.ensure_layer(target, self.name, code.bucket, code.key, code.build(), apply=apply)

    def destroy(self, target: AwsTarget) -> Action:
        return compute.destroy_layer(target, self.name)

    def exists(self, target: AwsTarget) -> bool:
        return compute.layer_exists(target, self.name)


@dataclass(frozen=True)
class Function:
    """A Lambda function; ``role`` and ``layers`` are names of resources walked before it."""

    name: str
    handler: str
    role: str
    code: Object
    timeout: int
    memory: int
    tags: Mapping[str, str]
    environment: Mapping[str, str] = field(default_factory=dict)
    layers: tuple[str, ...] = ()
    kind: ClassVar[Kind] = Kind.LAMBDA_FUNCTION
    owned: ClassVar[bool] = True

    def ensure(self, target: AwsTarget, arns: Arns, *, apply: bool) -> tuple[Action, str | None]:
        spec = compute.FunctionSpec(
            name=self.name,
            handler=self.handler,
            role_arn=arns[self.role],
            code_bucket=self.code.bucket,
            code_key=self.code.key,
            code=self.code.build(),
            timeout=self.timeout,
            memory=self.memory,
            environment=dict(self.environment),
            layers=[arns[layer] for layer in self.layers],
            tags=dict(self.tags),
        )
        return compute.ensure_function(target, spec, apply=apply)

    def destroy(self, target: AwsTarget) -> Action:
        return compute.destroy_function(target, self.name)

    def exists(self, target: AwsTarget) -> bool:
        return compute.function_exists(target, self.name)


@dataclass(frozen=True)
class GlueJob:
    """The Spark job (compute.glue_job_definition); ``role`` names a resource walked before it."""

    name: str
    role: str
    script: Object
    arguments: Mapping[str, str]
    tags: Mapping[str, str]
    kind: ClassVar[Kind] = Kind.GLUE_JOB
    owned: ClassVar[bool] = True

    def ensure(self, target: AwsTarget, arns: Arns, *, apply: bool) -> tuple[Action, str | None]:
        definition = compute.glue_job_definition(arns[self.role], self.script.name, dict(self.arguments))
        action = compute.ensure_glue_job(target, self.name, definition, dict(self.tags), apply=apply)
        return action, target.arn("glue", f"job/{self.name}")

    def destroy(self, target: AwsTarget) -> Action:
        return compute.destroy_glue_job(target, self.name)

    def exists(self, target: AwsTarget) -> bool:
        return compute.glue_job_exists(target, self.name)


@dataclass(frozen=True)
class Table:
    """The employees table (``lease=False``) or the batch lease table (infra/table.py holds the schemas)."""

    name: str
    tags: Mapping[str, str]
    lease: bool = False
    kind: ClassVar[Kind] = Kind.DYNAMODB_TABLE
    owned: ClassVar[bool] = True

    def ensure(self, target: AwsTarget, arns: Arns, *, apply: bool) -> tuple[Action, str | None]:
        ensure = table.ensure_lease_table if self.lease else table.ensure_table
        return ensure(target, self.name, dict(self.tags), apply=apply), target.arn("dynamodb", f"table/{self.name}")

    def destroy(self, target: AwsTarget) -> Action:
        return table.destroy_table(target, self.name)

    def exists(self, target: AwsTarget) -> bool:
        return table.table_exists(target, self.name)


@dataclass(frozen=True)
class Topic:
    """``alarms``: the CloudWatch alarms (names) its policy lets publish; ``key``: the KMS key (alias) that
    encrypts it, walked before it."""

    name: str
    tags: Mapping[str, str]
    alarms: tuple[str, ...] = ()
    key: str = "alias/aws/sns"
    kind: ClassVar[Kind] = Kind.SNS_TOPIC
    owned: ClassVar[bool] = True

    def ensure(self, target: AwsTarget, arns: Arns, *, apply: bool) -> tuple[Action, str | None]:
        alarm_arns = [target.arn("cloudwatch", f"alarm:{alarm}") for alarm in self.alarms]
        policy = notifications.topic_policy(target, self.name, alarm_arns)
        action = notifications.ensure_topic(target, self.name, dict(self.tags), policy, self.key, apply=apply)
        return action, notifications.topic_arn(target, self.name)

    def destroy(self, target: AwsTarget) -> Action:
        return notifications.destroy_topic(target, self.name)

    def exists(self, target: AwsTarget) -> bool:
        return notifications.topic_exists(target, self.name)


def _artifact(bucket: str, key: str, build: Callable[[], Artifact]) -> Object:
    # Looked up when the description is made (a test may swap a builder), built at most once per walk.
    return Object(bucket, key, cache(build))


def stage_resources(
    target: AwsTarget, names: PipelineNames, mwaa: tuple[str, str] | None = None
) -> tuple[Resource, ...]:
    """Every resource of the stage, in the order deploy creates them (destroy walks it backwards).
    ``mwaa`` = (environment, source bucket): also the environment's execution role."""
    tags = tagging.stage_tags(names)
    script = _artifact(names.artifacts_bucket, GLUE_SCRIPT_KEY, packaging.glue_script)
    glue_package = _artifact(names.artifacts_bucket, GLUE_PACKAGE_KEY, packaging.glue_package_zip)
    layer_zip = _artifact(names.artifacts_bucket, LAYER_KEY, packaging.faker_layer_zip)
    zips = {
        package: _artifact(names.artifacts_bucket, f"lambda/{package}.zip", partial(packaging.lambda_zip, package))
        for package in LAMBDA_MEMORY_MB
    }
    roles = [Role(role, service, policy, tags) for role, (service, policy) in iam.role_policies(target, names).items()]
    data_bucket = names.data_bucket
    resources: list[Resource] = [
        Bucket(data_bucket, tags, {f"{XCOM_PREFIX}/": XCOM_RETENTION_DAYS}),
        Bucket(names.artifacts_bucket, tags),
        script,
        glue_package,
        layer_zip,
        *zips.values(),
        *roles,
        # The roles may not create log groups: each group exists, with its retention, before anything logs.
        *(LogGroup(log_groups.lambda_group(f), tags) for f in (names.generator_function, names.writer_function)),
        *(SharedLogGroup(group) for group in log_groups.GLUE_SHARED_GROUPS),
        Layer(names.faker_layer, layer_zip),
        Function(
            names.generator_function,
            "generator.handler.handler",
            names.generator_role,
            zips["generator"],
            timeout=LAMBDA_TIMEOUT_S,
            memory=LAMBDA_MEMORY_MB["generator"],
            tags=tags,
            layers=(names.faker_layer,),
        ),
        Function(
            names.writer_function,
            "writer.handler.handler",
            names.writer_role,
            zips["writer"],
            timeout=LAMBDA_TIMEOUT_S,
            memory=LAMBDA_MEMORY_MB["writer"],
            tags=tags,
            environment={DATA_BUCKET_ENV: data_bucket},
        ),
        GlueJob(
            names.glue_job,
            names.glue_role,
            script,
            {
                "--job-language": "python",
                "--job-bookmark-option": "job-bookmark-disable",
                "--enable-metrics": "true",
                "--extra-py-files": glue_package.name,
                "--bucket": data_bucket,
                "--table": names.table,
                "--lease_table": names.lease_table,
            },
            tags,
        ),
        Table(names.table, tags),
        Table(names.lease_table, tags, lease=True),
        Key(alias_name(names.alerts_topic), tags, monitoring.alarm_names(names)),  # encrypts the topic
        Topic(names.alerts_topic, tags, monitoring.alarm_names(names), alias_name(names.alerts_topic)),
        *monitoring.stage_monitoring(names, tags),  # alarms notify the topic
    ]
    if mwaa:
        environment, source_bucket = mwaa
        resources.append(
            Role(
                names.mwaa_execution_role,
                list(mwaa_role.MWAA_SERVICES),
                mwaa_role.execution_policy(target, names, environment, source_bucket),
                tags,
                late={pending_arn(target): alias_name(names.alerts_topic)},  # the alerts key's ARN
            )
        )
    return tuple(resources)
