"""The MWAA part of a stage's description: network, source bucket, the bundle in it, the environment.

``deploy --mwaa`` walks these after the stage's other resources and the execution role (infra/deploy.py):
the bundle is in the bucket before CreateEnvironment, so the environment starts with the DAG. Create and
update wait for AVAILABLE as ``mwaa publish`` does (its wait and its upload, reused).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from employee_pipeline.config import PipelineNames
from employee_pipeline.waiting import wait_until
from infra import tagging
from infra.actions import ABSENT, DELETED, Action, Kind, outcome
from infra.mwaa import network
from infra.mwaa.bundle import SOURCE_BUCKET_LAYOUT
from infra.mwaa.publish import POLL_S, WAIT_TIMEOUT_S, PublishError, merged_options, upload_bundle, wait_available
from infra.resources import Bucket, LogGroup
from infra.session import AwsTarget, if_exists
from infra.storage import object_exists

AIRFLOW_VERSION = "3.3.1"
ACCESS_MODES = ("PRIVATE_ONLY", "PUBLIC_ONLY")
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
# Each CloudWatch log module and the group MWAA writes it to, LOG_GROUP with the module's suffix (MWAA user
# guide, "Viewing Airflow logs in Amazon CloudWatch").
LOG_GROUP = "airflow-{environment}-{suffix}"
LOG_MODULES = {
    "DagProcessingLogs": "DAGProcessing",
    "SchedulerLogs": "Scheduler",
    "WebserverLogs": "WebServer",
    "WorkerLogs": "Worker",
    "TaskLogs": "Task",
}
MISSING = ("ResourceNotFoundException",)


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class MwaaSpec:
    """What ``deploy --mwaa`` makes. ``network``: ``nat`` or ``endpoints`` (a new VPC) or ``existing`` (then
    ``subnet_ids`` and ``security_group_ids`` name it, and infra makes none of it). ``extra_tags`` go on the
    environment only: e.g. the local AWS's ``local-aws:fault`` or ``local-aws:airflow`` tags in tests."""

    environment: str
    source_bucket: str
    network: str = network.NAT
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    environment_class: str = "mw1.small"
    min_workers: int = 1
    max_workers: int = 10
    webserver_access_mode: str = "PRIVATE_ONLY"
    log_level: str = "INFO"
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    poll_s: float = POLL_S
    say: Callable[[str], None] = field(default=_quiet, compare=False)

    @classmethod
    def default(cls, names: PipelineNames, **kwargs: Any) -> MwaaSpec:
        return cls(names.mwaa_environment, names.mwaa_source_bucket, **kwargs)


@dataclass(frozen=True)
class SourceBundle:
    """The bundle ``mwaa publish`` uploads (infra/mwaa/publish.py), in the source bucket; goes with it."""

    bucket: str
    names: PipelineNames
    kind: ClassVar[Kind] = Kind.MWAA_BUNDLE
    owned: ClassVar[bool] = True

    @property
    def name(self) -> str:
        return f"s3://{self.bucket}/"

    def ensure(self, target: AwsTarget, arns: Mapping[str, str], *, apply: bool) -> tuple[Action, str | None]:
        artifacts, _ = upload_bundle(target.client("s3"), self.bucket, self.names, _quiet, apply=apply)
        changed = sorted(key for key, done in artifacts.items() if done != "unchanged")
        existed = any(done != "uploaded" for done in artifacts.values())
        return outcome(self.kind, self.name, existed, changed), None

    def destroy(self, target: AwsTarget) -> None:
        return None

    def exists(self, target: AwsTarget) -> bool:
        return object_exists(target.client("s3"), self.bucket, SOURCE_BUCKET_LAYOUT.requirements)


@dataclass(frozen=True)
class Environment:
    """The MWAA environment; ``subnets`` and ``security_groups``: names of network pieces walked before it,
    or IDs of an existing network. ``role`` names the execution role walked before it."""

    spec: MwaaSpec
    names: PipelineNames
    role: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    kind: ClassVar[Kind] = Kind.MWAA_ENVIRONMENT
    owned: ClassVar[bool] = True

    @property
    def name(self) -> str:
        return self.spec.environment

    def _current(self, target: AwsTarget) -> dict[str, Any] | None:
        found = if_exists(lambda: target.client("mwaa").get_environment(Name=self.name), MISSING)
        return found["Environment"] if found else None

    def _settings(self, target: AwsTarget, arns: Mapping[str, str], current: dict[str, Any]) -> dict[str, Any]:
        """What the environment should have: the object versions are those of the bundle in the bucket (None
        where a plan finds other bytes there: the version deploy would upload)."""
        spec = self.spec
        _, versions = upload_bundle(target.client("s3"), spec.source_bucket, self.names, _quiet, apply=False)
        logging = {m: {"Enabled": True, "LogLevel": spec.log_level} for m in LOG_MODULES}
        return {
            "AirflowVersion": AIRFLOW_VERSION,
            "EnvironmentClass": spec.environment_class,
            "MinWorkers": spec.min_workers,
            "MaxWorkers": spec.max_workers,
            "WebserverAccessMode": spec.webserver_access_mode,
            "ExecutionRoleArn": arns.get(self.role) or target.arn("iam", f"role/{self.role}", region=False),
            "SourceBucketArn": f"arn:{target.partition}:s3:::{spec.source_bucket}",
            **SOURCE_BUCKET_LAYOUT.environment_paths(),
            **versions,
            "AirflowConfigurationOptions": merged_options(current.get("AirflowConfigurationOptions", {}), self.names),
            "LoggingConfiguration": logging,
        }

    @staticmethod
    def _differs(key: str, wanted: Any, current: dict[str, Any]) -> bool:
        if key == "LoggingConfiguration":  # the output adds each module's log group
            have = current.get(key, {})
            return any({k: have.get(m, {}).get(k) for k in v} != v for m, v in wanted.items())
        return current.get(key) != wanted

    def network_ids(self, arns: Mapping[str, str]) -> dict[str, list[str]]:
        def ids(refs: tuple[str, ...]) -> list[str]:
            return [network.resource_id(arns[r]) if r in arns else r for r in refs]

        return {"SubnetIds": ids(self.subnets), "SecurityGroupIds": ids(self.security_groups)}

    def _network_update(self, arns: Mapping[str, str], current: dict[str, Any]) -> dict[str, Any]:
        """The security groups may change on UpdateEnvironment; the subnets never do (MWAA's API)."""
        wanted, have = self.network_ids(arns), current.get("NetworkConfiguration", {})
        if sorted(wanted["SubnetIds"]) != sorted(have.get("SubnetIds", [])):
            raise PublishError(
                f"MWAA environment {self.name} runs in subnets {', '.join(have.get('SubnetIds', []))}, not in "
                f"{', '.join(wanted['SubnetIds'])}: an environment's subnets cannot change; destroy it and deploy again"
            )
        if sorted(wanted["SecurityGroupIds"]) != sorted(have.get("SecurityGroupIds", [])):
            return {"NetworkConfiguration": {"SecurityGroupIds": wanted["SecurityGroupIds"]}}
        return {}

    def ensure(self, target: AwsTarget, arns: Mapping[str, str], *, apply: bool) -> tuple[Action, str | None]:
        mwaa, spec = target.client("mwaa"), self.spec
        tags = {**tagging.stage_tags(self.names), **spec.extra_tags}
        current = self._current(target)
        if current is None:
            if apply:
                settings = self._settings(target, arns, {})
                wanted = {k: v for k, v in settings.items() if v is not None}
                spec.say(f"creating environment {self.name}")
                net = self.network_ids(arns)
                mwaa.create_environment(Name=self.name, NetworkConfiguration=net, Tags=tags, **wanted)
                wait_available(mwaa, self.name, spec.say, WAIT_TIMEOUT_S, spec.poll_s, what="creation")
            return outcome(self.kind, self.name, False, []), target.arn("airflow", f"environment/{self.name}")
        if current["Status"] in ("CREATING", "UPDATING") and apply:  # an earlier deploy or publish was cut short
            wait_available(mwaa, self.name, spec.say, WAIT_TIMEOUT_S, spec.poll_s, what=current["Status"].lower())
            current = self._current(target) or current
        if current["Status"] == "CREATE_FAILED":  # MWAA updates no such environment
            raise PublishError(f"MWAA environment {self.name} is CREATE_FAILED: destroy it and deploy again")
        arn = current["Arn"]
        settings = self._settings(target, arns, current)
        update = {k: v for k, v in settings.items() if self._differs(k, v, current)}
        update.update(self._network_update(arns, current))
        changes = sorted(update)
        missing = tagging.missing(current.get("Tags", {}), tagging.stage_tags(self.names))
        if missing:
            changes.append(tagging.CHANGE)
            if apply:
                mwaa.tag_resource(ResourceArn=arn, Tags=missing)
        if update and apply:
            spec.say(f"updating environment {self.name}: {', '.join(sorted(update))}")
            mwaa.update_environment(Name=self.name, **{k: v for k, v in update.items() if v is not None})
            wait_available(mwaa, self.name, spec.say, WAIT_TIMEOUT_S, spec.poll_s)
        return outcome(self.kind, self.name, True, changes), arn

    def destroy(self, target: AwsTarget) -> Action:
        """Delete, then wait until it is gone: its network interfaces hold the subnets and security group."""
        if self._current(target) is None:
            return Action(self.kind, self.name, ABSENT)
        target.client("mwaa").delete_environment(Name=self.name)
        wait_until(
            lambda: self._current(target) is None,
            timeout=WAIT_TIMEOUT_S, interval=self.spec.poll_s, message=f"MWAA environment {self.name} is still there",
        )  # fmt: skip
        return Action(self.kind, self.name, DELETED)

    def exists(self, target: AwsTarget) -> bool:
        return self._current(target) is not None


def log_group(environment: str, module: str) -> str:
    """The CloudWatch log group of ``environment``'s log module (``TaskLogs``...)."""
    return LOG_GROUP.format(environment=environment, suffix=LOG_MODULES[module])


def mwaa_resources(names: PipelineNames, spec: MwaaSpec, role: str, *, every_network: bool = False) -> tuple[Any, ...]:
    """Source bucket, bundle, network (none for an existing one), environment, in creation order; with
    ``every_network`` (destroy, status) the pieces of both networks, whichever deploy made."""
    tags = tagging.stage_tags(names)
    head = (Bucket(spec.source_bucket, tags), SourceBundle(spec.source_bucket, names))
    if every_network:
        _, subnets, sg = network.network_resources(names, network.NAT)
        pieces: tuple[Any, ...] = network.every_network_resource(names)
        groups: tuple[str, ...] = (sg,)
    elif spec.network == network.EXISTING:
        pieces, subnets, groups = (), spec.subnet_ids, spec.security_group_ids
    else:
        pieces, subnets, sg = network.network_resources(names, spec.network)
        groups = (sg,)
    # MWAA creates a missing group without a retention (kept, and paid for, forever) and leaves it when the
    # environment goes: made here first, they have the stage's retention and tags, and destroy removes them.
    logs = tuple(LogGroup(log_group(spec.environment, module), tags) for module in LOG_MODULES)
    return (*head, *pieces, *logs, Environment(spec, names, role, tuple(subnets), groups))
