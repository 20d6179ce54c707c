"""Shared fixtures: a local SparkSession and the local AWS (started once per session)."""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

# Never let a test reach a real AWS account, whatever the developer's shell has.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.update(
    {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
)


# SIGTERM (a CI timeout) and SIGHUP (a closed terminal) would kill pytest without running a single
# fixture finalizer, leaving the local AWS, Airflow and their jobs running. As KeyboardInterrupt they
# take Ctrl-C's path instead: pytest tears every fixture down, then exits with code 2.
_INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_previous_handlers: dict[int, Any] = {}
_interrupted = False


def _interrupt(signum: int, frame: FrameType | None) -> None:
    global _interrupted
    # A CI runner often follows its first signal with SIGTERM: that must not cut the teardown short.
    # Another Ctrl-C still does, as the user asked for it.
    if _interrupted and signum != signal.SIGINT:
        return
    _interrupted = True
    raise KeyboardInterrupt(f"{signal.Signals(signum).name} received: tearing down")


def pytest_configure(config: pytest.Config) -> None:
    for signum in _INTERRUPTS:
        _previous_handlers[signum] = signal.signal(signum, _interrupt)


def pytest_unconfigure(config: pytest.Config) -> None:
    for signum, handler in _previous_handlers.items():
        signal.signal(signum, handler)
    _previous_handlers.clear()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    # Python workers unpickle the job's functions by module name (on Glue the script is __main__,
    # pickled by value): they must find glue/ too.
    glue_dir = str(Path(__file__).resolve().parents[1] / "glue")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [glue_dir, os.environ.get("PYTHONPATH")]))
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
    """The project's local AWS, as `python -m local_aws start` runs it; yields its endpoint."""
    from local_aws import server

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
