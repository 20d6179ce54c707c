"""Amazon MWAA environments for the local AWS (moto has no MWAA backend) and their states; ``mwaa_api``
serves them, ``mwaa_configuration`` holds what a configuration defaults to and what AWS checks of it.

States, as on AWS, but each transition takes ``delay_s`` seconds (``LOCAL_AWS_MWAA_DELAY_S``,
default 2) instead of 20-30 minutes, so callers poll as they must on AWS:

* CreateEnvironment: ``CREATING`` -> ``AVAILABLE`` (or ``CREATE_FAILED``);
* UpdateEnvironment (from ``AVAILABLE`` or ``UPDATE_FAILED`` only): ``UPDATING`` -> ``AVAILABLE`` with
  the new configuration, or ``UPDATE_FAILED`` with the previous one (AWS rolls a failed update back);
* DeleteEnvironment (not while ``CREATING``, ``UPDATING`` or ``DELETING``): ``DELETING`` -> gone.

``LastUpdate`` is ``PENDING`` while a create or update runs, then ``SUCCESS`` or ``FAILED`` with
``Error``. A transition ends when the environment is next read: no timers.

With an ``airflow`` launcher (``mwaa_airflow``; the server always gives one, ``LOCAL_AWS_MWAA_AIRFLOW``
and the ``local-aws:airflow`` tag decide per environment) a create or update instead lasts until the
environment's real Airflow has started or failed to, a delete until it has stopped. ``network_check``
(the server's: ``mwaa_network``, against moto's EC2) checks ``NetworkConfiguration`` at creation; unit
tests may leave it out.

Fault injection, as in ``faults``: an environment tagged ``local-aws:fault`` =
``UpdateEnvironment:UPDATE_FAILED[:N]`` ends its next N updates (default 1) as ``UPDATE_FAILED``;
``CreateEnvironment:CREATE_FAILED[:N]`` (tagged at creation) ends its creation as ``CREATE_FAILED``.
The count in the tag goes down with each injected failure.
"""

from __future__ import annotations

import base64
import copy
import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local_aws.faults import FAULT_TAG
from local_aws.mwaa_airflow import AirflowLauncher, Job, Running, check_tag
from local_aws.mwaa_configuration import (
    CONFIG_MEMBERS,
    S3_FILES,
    check,
    check_tags,
    logging_configuration,
    partition,
    with_defaults,
)
from local_aws.mwaa_errors import ResourceNotFoundException, ValidationException

DELAY_ENV = "LOCAL_AWS_MWAA_DELAY_S"
DEFAULT_DELAY_S = 2.0
# LastUpdate.Source of the updates a caller asked for (AWS documents no value list).
UPDATE_SOURCE = "CUSTOMER"
UPDATABLE = ("AVAILABLE", "UPDATE_FAILED")
DELETABLE = ("AVAILABLE", "UPDATE_FAILED", "CREATE_FAILED", "UNAVAILABLE")
LIST_PAGE = 25
INJECTED_ERROR_CODE = "InjectedFault"
# The fault each operation can be planned to end with.
FAULTS = {"CreateEnvironment": "CREATE_FAILED", "UpdateEnvironment": "UPDATE_FAILED"}


def delay_from_env() -> float:
    """Seconds each transition takes: ``LOCAL_AWS_MWAA_DELAY_S``, default 2."""
    raw = os.environ.get(DELAY_ENV, "").strip()
    if not raw:
        return DEFAULT_DELAY_S
    try:
        delay = float(raw)
    except ValueError:
        delay = math.nan
    if not (delay >= 0 and math.isfinite(delay)):
        raise ValueError(f"{DELAY_ENV}={raw!r}: expected a number of seconds >= 0")
    return delay


@dataclass
class Environment:
    name: str
    arn: str
    created_at: float
    config: dict[str, Any]
    tags: dict[str, str]
    webserver_url: str
    status: str = "CREATING"
    last_update: dict[str, Any] | None = None
    pending: dict[str, Any] | None = None  # UPDATING: the configuration a successful update ends with
    error: dict[str, str] | None = None  # the error the running transition ends with (an injected fault)
    ends_at: float | None = None  # when the running transition ends (the backend's clock)
    job: Job | None = None  # the Airflow start or stop the running transition waits for
    airflow: Running | None = None  # the environment's Airflow, when it runs one

    def describe(self) -> dict[str, Any]:
        """The ``Environment`` structure of GetEnvironment."""
        described: dict[str, Any] = {
            "Name": self.name,
            "Arn": self.arn,
            "Status": self.status,
            "CreatedAt": self.created_at,
            **copy.deepcopy(self.config),
            "Tags": dict(self.tags),
        }
        if self.status not in ("CREATING", "CREATE_FAILED"):
            described["WebserverUrl"] = self.webserver_url
        if self.last_update is not None:
            described["LastUpdate"] = copy.deepcopy(self.last_update)
        return described


class MwaaBackend:
    """The MWAA environments of one account and region; every method is thread-safe."""

    def __init__(
        self,
        account_id: str,
        region: str,
        *,
        delay_s: float = DEFAULT_DELAY_S,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        airflow: AirflowLauncher | None = None,
        network_check: Callable[[dict[str, Any], str, str], None] | None = None,
    ) -> None:
        self.account_id, self.region = account_id, region
        self.airflow, self.network_check = airflow, network_check
        self.delay_s = delay_s
        self._clock, self._wall_clock = clock, wall_clock
        self._lock = threading.RLock()
        self._environments: dict[str, Environment] = {}

    # Transitions.

    def _settle(self) -> None:
        """End every transition whose time has come."""
        now = self._clock()
        for environment in list(self._environments.values()):
            job = environment.job
            if job is not None and job.done.is_set():
                environment.error = environment.error or job.error
                environment.airflow = job.running if environment.status != "DELETING" else None
                environment.job = None
                self._end_transition(environment)
            elif job is None and environment.ends_at is not None and now >= environment.ends_at:
                self._end_transition(environment)

    def _end_transition(self, environment: Environment) -> None:
        failed = environment.error is not None
        if environment.status == "DELETING":
            del self._environments[environment.name]
            return
        if environment.status == "CREATING":
            environment.status = "CREATE_FAILED" if failed else "AVAILABLE"
        elif environment.status == "UPDATING":
            environment.status = "UPDATE_FAILED" if failed else "AVAILABLE"
            if not failed and environment.pending is not None:
                environment.config = environment.pending
        if environment.last_update is not None:
            environment.last_update["Status"] = "FAILED" if failed else "SUCCESS"
            if failed:
                environment.last_update["Error"] = environment.error
        environment.pending = environment.error = environment.ends_at = None

    def _begin_transition(self, environment: Environment, status: str) -> None:
        environment.status = status
        environment.ends_at = self._clock() + self.delay_s
        runs_airflow = self.airflow is not None and self.airflow.wanted(environment.tags)
        if status == "DELETING":
            if self.airflow is not None and (runs_airflow or environment.airflow is not None):
                forget = (environment.name, self.account_id, self.region)
                environment.job = self.airflow.stop(environment.airflow, forget)
        elif runs_airflow and environment.error is None:  # an injected fault ends the transition without Airflow
            config = environment.pending if status == "UPDATING" else environment.config
            environment.job = self.airflow.start(
                environment.name, self.account_id, self.region, config, environment.airflow
            )
        elif self.airflow is not None and environment.airflow is not None and not runs_airflow:  # tagged off since
            environment.job = self.airflow.stop(environment.airflow)

    def _get(self, name: str) -> Environment:
        self._settle()
        environment = self._environments.get(name)
        if environment is None:
            raise ResourceNotFoundException(f"Environment {name} not found.")
        return environment

    # Operations.

    def create_environment(self, params: dict[str, Any]) -> str:
        with self._lock:
            self._settle()
            name = params["Name"]
            if name in self._environments:
                raise ValidationException(f"Environment {name} already exists.")
            config = with_defaults({m: copy.deepcopy(params[m]) for m in CONFIG_MEMBERS if m in params})
            config["LoggingConfiguration"] = logging_configuration(
                self.account_id, self.region, name, {}, params.get("LoggingConfiguration") or {}
            )
            check(config, self.account_id, self.region)
            if self.network_check is not None:
                self.network_check(config["NetworkConfiguration"], self.account_id, self.region)
            tags = dict(params.get("Tags") or {})
            check_tags(tags)
            check_tag(tags)
            aws_partition = partition(self.region)
            config["ServiceRoleArn"] = (
                f"arn:{aws_partition}:iam::{self.account_id}:role/aws-service-role/airflow.amazonaws.com/"
                "AWSServiceRoleForAmazonMWAA"
            )
            config["CeleryExecutorQueue"] = (
                f"arn:{aws_partition}:sqs:{self.region}:{self.account_id}:airflow-celery-{uuid.uuid4()}"
            )
            environment = Environment(
                name=name,
                arn=f"arn:{aws_partition}:airflow:{self.region}:{self.account_id}:environment/{name}",
                created_at=round(self._wall_clock(), 3),
                config=config,
                tags=tags,
                webserver_url=f"{uuid.uuid4()}.c1.{self.region}.airflow.amazonaws.com",
            )
            environment.error = self._take_fault(environment, "CreateEnvironment")
            environment.last_update = self._pending_update()
            self._begin_transition(environment, "CREATING")
            self._environments[name] = environment
            return environment.arn

    def get_environment(self, name: str) -> dict[str, Any]:
        with self._lock:
            return self._get(name).describe()

    def serving_airflow(self, name: str) -> Running | None:
        """The Airflow of an environment that serves requests (AVAILABLE, or UPDATE_FAILED: rolled back and
        ready to use, as AWS words it); ValidationException otherwise; None when it runs no Airflow."""
        with self._lock:
            environment = self._get(name)
            if environment.status not in UPDATABLE:
                raise ValidationException(
                    f"Environment {name} is {environment.status}: the Apache Airflow REST API is available only "
                    f"when its status is one of {', '.join(UPDATABLE)}."
                )
            return environment.airflow

    def list_environments(self, max_results: int | None = None, next_token: str | None = None) -> dict[str, Any]:
        """Names in alphabetical order, ``max_results`` (default 25) a page."""
        with self._lock:
            self._settle()
            names = sorted(self._environments)
        if next_token:
            try:
                start = base64.urlsafe_b64decode(next_token.encode()).decode()
            except ValueError:
                raise ValidationException(f"Invalid NextToken: {next_token}") from None
            names = [name for name in names if name >= start]
        page = max_results or LIST_PAGE
        answer: dict[str, Any] = {"Environments": names[:page]}
        if len(names) > page:
            answer["NextToken"] = base64.urlsafe_b64encode(names[page].encode()).decode()
        return answer

    def update_environment(self, params: dict[str, Any]) -> str:
        with self._lock:
            environment = self._get(params["Name"])
            if environment.status not in UPDATABLE:
                raise ValidationException(
                    f"Environment {environment.name} is {environment.status}: it can be updated only when "
                    f"its status is one of {', '.join(UPDATABLE)}."
                )
            changes = {m: params[m] for m in CONFIG_MEMBERS if params.get(m) is not None}
            target = copy.deepcopy(environment.config)
            for member, value in changes.items():
                if member == "NetworkConfiguration":  # an update only changes the security groups
                    target[member] = {**target.get(member, {}), **copy.deepcopy(value)}
                elif member == "LoggingConfiguration":
                    target[member] = logging_configuration(
                        self.account_id, self.region, environment.name, target.get(member, {}), value
                    )
                else:
                    target[member] = copy.deepcopy(value)
            for path, version in S3_FILES:
                if path in changes and version not in changes:  # the old version is of the old path
                    target.pop(version, None)
            check(target, self.account_id, self.region)
            environment.pending = target
            environment.error = self._take_fault(environment, "UpdateEnvironment")
            environment.last_update = {
                **self._pending_update(),
                "WorkerReplacementStrategy": params.get("WorkerReplacementStrategy") or "FORCED",
            }
            self._begin_transition(environment, "UPDATING")
            return environment.arn

    def delete_environment(self, name: str) -> None:
        with self._lock:
            environment = self._get(name)
            if environment.status not in DELETABLE:
                raise ValidationException(
                    f"Environment {name} is {environment.status}: it can be deleted only when its status is "
                    f"one of {', '.join(DELETABLE)}."
                )
            environment.pending = environment.error = None
            self._begin_transition(environment, "DELETING")

    def list_tags_for_resource(self, arn: str) -> dict[str, str]:
        with self._lock:
            return dict(self._by_arn(arn).tags)

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        with self._lock:
            environment = self._by_arn(arn)
            merged = {**environment.tags, **tags}
            check_tags(merged)
            check_tag(merged)
            environment.tags = merged

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        with self._lock:
            environment = self._by_arn(arn)
            for key in keys:
                environment.tags.pop(key, None)

    # Helpers.

    def _by_arn(self, arn: str) -> Environment:
        self._settle()
        for environment in self._environments.values():
            if environment.arn == arn:
                return environment
        raise ResourceNotFoundException(f"Resource {arn} not found.")

    def _pending_update(self) -> dict[str, Any]:
        return {"Status": "PENDING", "CreatedAt": round(self._wall_clock(), 3), "Source": UPDATE_SOURCE}

    @staticmethod
    def _take_fault(environment: Environment, operation: str) -> dict[str, str] | None:
        """Consume one failure planned for ``operation`` by the fault tag, if any: the error it ends with."""
        value = environment.tags.get(FAULT_TAG)
        planned, _, rest = (value or "").partition(":")
        if planned != operation:
            return None
        fault, _, count_text = rest.partition(":")
        try:
            count = int(count_text) if count_text else 1
        except ValueError:
            count = -1
        if fault != FAULTS[operation] or count < 0:
            raise ValidationException(
                f"Tag {FAULT_TAG}={value}: expected {operation}:{FAULTS[operation]} or "
                f"{operation}:{FAULTS[operation]}:<count>."
            )
        if count == 0:
            return None
        environment.tags[FAULT_TAG] = f"{operation}:{fault}:{count - 1}"
        return {
            "ErrorCode": INJECTED_ERROR_CODE,
            "ErrorMessage": f"{operation} ended as {fault}: injected by the {FAULT_TAG} tag.",
        }


class MwaaBackends:
    """One ``MwaaBackend`` per account and region, created on first use, sharing one launcher and network check."""

    def __init__(
        self,
        delay_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        airflow: AirflowLauncher | None = None,
        network_check: Callable[[dict[str, Any], str, str], None] | None = None,
    ) -> None:
        self.delay_s = delay_from_env() if delay_s is None else delay_s
        self._clock = clock
        self.airflow, self.network_check = airflow, network_check
        self._lock = threading.Lock()
        self._backends: dict[tuple[str, str], MwaaBackend] = {}

    def get(self, account_id: str, region: str) -> MwaaBackend:
        with self._lock:
            backend = self._backends.get((account_id, region))
            if backend is None:
                backend = MwaaBackend(
                    account_id,
                    region,
                    delay_s=self.delay_s,
                    clock=self._clock,
                    airflow=self.airflow,
                    network_check=self.network_check,
                )
                self._backends[account_id, region] = backend
            return backend

    def reset(self) -> None:
        with self._lock:
            self._backends.clear()
        if self.airflow is not None:
            self.airflow.stop_all()
