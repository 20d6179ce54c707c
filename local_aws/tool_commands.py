"""Subprocesses with timeouts for the tools the local AWS runs (uv, pip's resolver, Airflow's CLI).

Each command runs in its own process group, which is killed on a timeout or an interruption, so
nothing it started outlives it. A failure raises ``CommandError`` carrying the command's output.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

UV_VERSION = "0.13.9"  # only installed when no uv is on PATH


class CommandError(RuntimeError):
    """A command exited with an error or did not finish in time; ``stdout``/``stderr`` are what it printed."""

    def __init__(self, message: str, stdout: str = "", stderr: str = "") -> None:
        super().__init__(message)
        self.stdout, self.stderr = stdout, stderr


def tail(text: str | bytes | None, limit: int = 4000) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = text or ""
    return text if len(text) <= limit else "...\n" + text[-limit:]


def run(
    args: Sequence[Any], *, what: str, timeout: float, check: bool = True, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``args`` in its own process group; on a timeout the whole group is killed. Failures show stderr."""
    args = [str(a) for a in args]
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kwargs
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise CommandError(
                f"{what} did not finish in {timeout:.0f} s: {shlex.join(args)}\n"
                f"--- stdout\n{tail(stdout)}\n--- stderr\n{tail(stderr)}",
                stdout,
                stderr,
            ) from None
        raise
    result = subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
    if check and result.returncode != 0:
        raise CommandError(
            f"{what} exited {result.returncode}: {shlex.join(args)}\n"
            f"--- stdout\n{tail(stdout)}\n--- stderr\n{tail(stderr)}",
            stdout,
            stderr,
        )
    return result


def uv(cache: Path, env: Mapping[str, str]) -> str:
    """uv from PATH, else from a tool venv kept in the cache folder (installed from the package index once)."""
    if found := shutil.which("uv"):
        return found
    tool = cache / "uv-tool"
    uv = tool / "bin" / "uv"
    if not uv.exists():
        shutil.rmtree(tool, ignore_errors=True)
        run([sys.executable, "-m", "venv", tool], what="creating the uv tool venv", timeout=300, env=env)
        run(
            [tool / "bin" / "python", "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"],
            what="installing uv",
            timeout=900,
            env=env,
        )
    return str(uv)
