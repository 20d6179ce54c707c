"""boto3 clients for one target: real AWS (default chain) or an emulator endpoint.

A plan (``deploy --plan``) walks with ``target.reader()``: the same target whose clients refuse, before
anything is sent, every operation that is not a read (``is_read``). A forgotten ``if apply:`` guard then
fails the plan with ``WriteRefused`` instead of changing AWS.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

T = TypeVar("T")

DEFAULT_REGION = "us-east-1"
# Emulators accept any credentials; real AWS never sees these.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

# What a reader's clients let through: an operation of a service below whose name starts with a read verb,
# or one of READ_OPERATIONS. tests/unit/test_plan_read_only.py checks these services' botocore models: each
# operation so named is a read (GET or HEAD where the protocol has methods). A walk that needs another
# service adds it here, and the test checks its model too.
READ_PREFIXES = ("Describe", "Get", "List", "Head")
READ_SERVICES = frozenset(
    {"cloudwatch", "dynamodb", "ec2", "glue", "iam", "kms", "lambda", "logs", "mwaa", "s3", "sns", "sts"}
)
# Where a service signs with another name (what an emulator's request counts show): that name -> botocore's.
SIGNING_NAMES = {"monitoring": "cloudwatch"}
# Reads the prefixes miss, as (service, operation): none so far.
READ_OPERATIONS: frozenset[tuple[str, str]] = frozenset()


def is_read(service: str, operation: str) -> bool:
    """Whether ``operation`` of ``service`` (botocore's names: ``s3``, ``HeadBucket``; or the signing name)
    only reads."""
    service = SIGNING_NAMES.get(service, service)
    if (service, operation) in READ_OPERATIONS:
        return True
    return service in READ_SERVICES and operation.startswith(READ_PREFIXES)


class WriteRefused(BotoCoreError):
    """A reader's client was asked to change AWS: a plan calls only reads."""

    fmt = "{service}:{operation} refused: a plan (deploy --plan) must not change AWS, and {operation} is not a read"


def _refuse_writes(model: Any, **_: Any) -> None:
    # botocore's before-parameter-build: before the parameters are validated, let alone sent.
    service, operation = model.service_model.service_name, model.name
    if not is_read(service, operation):
        raise WriteRefused(service=service, operation=operation)


@dataclass
class AwsTarget:
    """Where to provision: ``endpoint_url`` set means an emulator."""

    region: str | None = None
    endpoint_url: str | None = None
    read_only: bool = False  # every client refuses what is not a read (WriteRefused): see reader()
    _session: Any = field(default=None, repr=False)
    _account: str | None = field(default=None, repr=False)

    @property
    def session(self) -> boto3.session.Session:
        if self._session is None:
            region = self.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            kwargs: dict[str, Any] = {"region_name": region or DEFAULT_REGION}
            if self.endpoint_url and boto3.session.Session().get_credentials() is None:
                kwargs.update(EMULATOR_CREDENTIALS)
            self._session = boto3.session.Session(**kwargs)
        return self._session

    @property
    def region_name(self) -> str:
        return self.session.region_name

    def check_reachable(self, timeout_s: float = 3.0) -> None:
        """EndpointConnectionError at once when ``endpoint_url`` refuses connections: botocore would retry
        a refused connection for about 16 s before saying so (AWS itself is not probed)."""
        if not self.endpoint_url:
            return
        url = urlsplit(self.endpoint_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            socket.create_connection((url.hostname or "localhost", port), timeout=timeout_s).close()
        except OSError as err:
            raise EndpointConnectionError(endpoint_url=self.endpoint_url, error=err) from err

    def reader(self) -> AwsTarget:
        """This target (its session and credentials) with clients that only read: what a plan walks with."""
        return replace(self, read_only=True, _session=self.session, _account=self._account)

    def _guarded(self, client: Any) -> Any:
        if self.read_only:
            client.meta.events.register_first("before-parameter-build", _refuse_writes)
        return client

    def client(self, service: str) -> Any:
        return self._guarded(
            self.session.client(
                service,
                endpoint_url=self.endpoint_url,
                # An emulator is one host: no "api." (MWAA) or account-id host prefixes in front of it.
                config=Config(
                    retries={"mode": "standard", "max_attempts": 5}, inject_host_prefix=not self.endpoint_url
                ),
            )
        )

    def resource(self, service: str) -> Any:
        resource = self.session.resource(service, endpoint_url=self.endpoint_url)
        self._guarded(resource.meta.client)
        return resource

    @property
    def account_id(self) -> str:
        if self._account is None:
            self._account = self.client("sts").get_caller_identity()["Account"]
        return self._account

    @property
    def partition(self) -> str:
        return self.session.get_partition_for_region(self.region_name)

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region_name if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def if_exists(call: Callable[[], T], missing: tuple[str, ...]) -> T | None:
    """``call()``, or None when AWS answers with one of the ``missing`` error codes."""
    try:
        return call()
    except ClientError as err:
        if error_code(err) in missing:
            return None
        raise
