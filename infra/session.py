"""boto3 clients for one target: real AWS (default chain) or an emulator endpoint."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

T = TypeVar("T")

DEFAULT_REGION = "us-east-1"
# Emulators accept any credentials; real AWS never sees these.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class AwsTarget:
    """Where to provision: ``endpoint_url`` set means an emulator."""

    region: str | None = None
    endpoint_url: str | None = None
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

    def client(self, service: str) -> Any:
        return self.session.client(
            service,
            endpoint_url=self.endpoint_url,
            # An emulator is one host: no "api." (MWAA) or account-id host prefixes in front of it.
            config=Config(retries={"mode": "standard", "max_attempts": 5}, inject_host_prefix=not self.endpoint_url),
        )

    def resource(self, service: str) -> Any:
        return self.session.resource(service, endpoint_url=self.endpoint_url)

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
