"""The local AWS's MWAA API as a client sees it: environments settling after a change."""

from __future__ import annotations

from typing import Any

from employee_pipeline.waiting import wait_until

MWAA_TRANSIENT = ("CREATING", "UPDATING", "DELETING")
MWAA_GONE = "(gone)"  # what statuses_until_settled records once GetEnvironment no longer finds the environment


def statuses_until_settled(mwaa: Any, name: str, timeout: float = 60) -> list[str]:
    """Every status GetEnvironment shows, polled until the environment leaves the transient ones."""
    seen: list[str] = []

    def settled() -> bool:
        try:
            status = mwaa.get_environment(Name=name)["Environment"]["Status"]
        except mwaa.exceptions.ResourceNotFoundException:
            status = MWAA_GONE
        if not seen or seen[-1] != status:
            seen.append(status)
        return status not in MWAA_TRANSIENT

    wait_until(
        settled,
        timeout=timeout,
        interval=0.2,
        message=f"{name} did not settle",
        error=lambda text: AssertionError(f"{text}: still {seen[-1]} (seen: {seen})"),
    )
    return seen
