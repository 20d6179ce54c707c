"""Shared fixtures: a local SparkSession and the local AWS (started once per session)."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator

import pytest

# Never let a test reach a real AWS account, whatever the developer's shell has.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.update(
    {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    # py4j logs while the interpreter shuts down, after pytest closed its streams.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    session = (
        SparkSession.builder.master("local[1]")
        .appName("unit-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def local_aws() -> Iterator[str]:
    """The project's local AWS, as `python -m infra.local_aws start` runs it; yields its endpoint."""
    from infra.local_aws import server

    port = free_port()
    server.start(port=port)
    try:
        yield server.endpoint_url(port=port)
    finally:
        server.stop(port)


@pytest.fixture(scope="session")
def aws(local_aws: str) -> object:
    from infra.session import AwsTarget

    return AwsTarget(endpoint_url=local_aws)
