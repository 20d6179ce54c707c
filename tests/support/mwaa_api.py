"""The local AWS's MWAA API as a client sees it: environments settling after a change."""

from __future__ import annotations

import time
from typing import Any

MWAA_TRANSIENT = ("CREATING", "UPDATING", "DELETING")
MWAA_GONE = "(gone)"  # what statuses_until_settled records once GetEnvironment no longer finds the environment


def statuses_until_settled(mwaa: Any, name: str, timeout: float = 60) -> list[str]:
    """Every status GetEnvironment shows, polled until the environment leaves the transient ones."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = mwaa.get_environment(Name=name)["Environment"]["Status"]
        except mwaa.exceptions.ResourceNotFoundException:
            status = MWAA_GONE
        if not seen or seen[-1] != status:
            seen.append(status)
        if status not in MWAA_TRANSIENT:
            return seen
        assert time.monotonic() < deadline, f"{name} still {status} after {timeout}s"
        time.sleep(0.2)
