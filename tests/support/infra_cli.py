"""``python -m infra`` as a user runs it against the local AWS, and a stage deployed with ``deploy --mwaa``
(its environment, network and source bucket), which the tests/mwaa modules of that stage share."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from employee_pipeline.config import pipeline_names
from tests.support.leftovers import leftovers

POLL = ("--poll", "2")


def infra(local_aws: str, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    """``python -m infra ARGS --endpoint-url LOCAL_AWS`` (its output kept for the failure)."""
    return subprocess.run(
        [sys.executable, "-m", "infra", *args, "--endpoint-url", local_aws],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"{done.args} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


@contextmanager
def deployed_with_mwaa(local_aws: str, aws: Any, stage: str) -> Iterator[dict[str, Any]]:
    """``deploy --stage STAGE --mwaa`` (its JSON output); destroyed afterwards unless a test destroyed it."""
    deployed = ok(infra(local_aws, "deploy", "--stage", stage, "--mwaa", *POLL, "--json"))
    try:
        yield json.loads(deployed.stdout)
    finally:
        if leftovers(aws, pipeline_names(stage)):
            infra(local_aws, "destroy", "--stage", stage, *POLL)
