"""SIGTERM (a CI timeout) and SIGHUP (a closed terminal) taken the way of Ctrl-C.

Either would kill pytest without running a single fixture finalizer, leaving the local AWS, Airflow
and their jobs running. As KeyboardInterrupt they take Ctrl-C's path instead: pytest tears every
fixture down, then exits with code 2. tests/conftest.py installs the handler for the session.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from infra import ROOT

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_previous_handlers: dict[int, Any] = {}
_interrupted = False


def interrupt(signum: int, frame: FrameType | None) -> None:
    """The handler: the first signal raises KeyboardInterrupt; later ones but SIGINT are ignored."""
    global _interrupted
    # A CI runner often follows its first signal with SIGTERM: that must not cut the teardown short.
    # Another Ctrl-C still does, as the user asked for it.
    if _interrupted and signum != signal.SIGINT:
        return
    _interrupted = True
    raise KeyboardInterrupt(f"{signal.Signals(signum).name} received: tearing down")


def install() -> None:
    for signum in SIGNALS:
        _previous_handlers[signum] = signal.signal(signum, interrupt)


def restore() -> None:
    for signum, handler in _previous_handlers.items():
        signal.signal(signum, handler)
    _previous_handlers.clear()


@contextmanager
def child_session(args: Sequence[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """``args`` run from the repository in a session of their own, so only the signals a test sends reach
    them; output to ``log``. Killed if still running and reaped when the block ends, however it ends."""
    with log.open("wb") as out:
        child = subprocess.Popen(
            list(args),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
