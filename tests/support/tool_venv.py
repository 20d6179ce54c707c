"""Tool venvs the slow tiers build from the package index (once, then cached): the local AWS's commands
(``local_aws.tool_commands``), a failure shown as the test's failure."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any

import pytest

from local_aws import tool_commands
from local_aws.tool_commands import CommandError, tail, uv

__all__ = ["run", "tail", "uv"]


def run(
    args: Sequence[Any], *, what: str, timeout: float, check: bool = True, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """``tool_commands.run``: its own process group, killed on a timeout; a failure fails the test."""
    try:
        return tool_commands.run(args, what=what, timeout=timeout, check=check, **kwargs)
    except CommandError as err:
        pytest.fail(str(err))
