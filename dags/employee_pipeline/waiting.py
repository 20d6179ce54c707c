"""Waiting for a condition, with a deadline and a message: the one polling loop of the project.

Standard library only, in the package every other one may import: the plugins (on MWAA), ``infra/``,
the local AWS, ``local_run/`` and the tests all poll with ``wait_until``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeoutError(TimeoutError):
    """A condition did not hold within its timeout."""


def wait_until(
    check: Callable[[], T],
    *,
    timeout: float,
    message: str,
    interval: float = 1.0,
    retry: Callable[[Exception], bool] | None = None,
    error: Callable[[str], Exception] = WaitTimeoutError,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``check`` every ``interval`` seconds until it returns a truthy value; return that value.

    ``check`` runs at once, then after each pause, and once more when ``timeout`` seconds are up; if it
    still returns a falsy value, ``error`` (WaitTimeoutError unless given) is raised with ``message`` and
    the timeout. An exception ``check`` raises ends the wait, unless ``retry(exception)`` says it only
    means "not yet": then the timeout's error is chained to the last such exception.
    """
    deadline = time.monotonic() + timeout
    refused: Exception | None = None
    while True:
        try:
            value = check()
        except Exception as err:
            if retry is None or not retry(err):
                raise
            refused, value = err, None
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise error(f"{message} (gave up after {timeout:g}s)") from refused
        sleep(min(interval, remaining))
