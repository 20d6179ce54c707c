"""MWAA's Airflow on this machine: the Python 3.12 venv of MWAA's image and an AIRFLOW_HOME laid out as MWAA's.

The venv is built from MWAA's constraints, the packages MWAA's image already has for this DAG and
the environment's ``requirements.txt``, and nothing from the development lock. It is cached in
``.venv-mwaa-py312/`` under a key of its inputs, so only the first run (or a change of the
constraints or requirements) pays for it; the ``KEEP`` most recently used venvs stay. Before a new
venv is built its requirements are resolved (``uv pip compile``, seconds): a requirements.txt that
cannot install fails then, with the resolver's reason, not minutes later. The home has the
environment's dags as its dags folder, the unzipped ``plugins.zip`` as its plugins folder, the
environment ``startup.sh`` exports, and is the working directory of every command, so nothing of
the repository can be imported. The local AWS's MWAA environments (``mwaa_airflow``) and the tests of
``tests/mwaa`` both run Airflow from here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local_aws import ROOT
from local_aws.tool_commands import CommandError, run, tail, uv

CONSTRAINTS = ROOT / "requirements" / "mwaa-constraints-3.3.1.txt"
CACHE = ROOT / ".venv-mwaa-py312"
KEEP = 3
# What MWAA's Airflow 3.3.1 image already has that this DAG uses; everything else comes from requirements.txt.
MWAA_IMAGE = (
    "apache-airflow==3.3.1",
    "apache-airflow-providers-amazon[aiobotocore]",
    "apache-airflow-providers-common-io",
    "apache-airflow-providers-standard",
)
_CONSTRAINT_LINE = re.compile(r"^\s*(?:-c|--constraint)(?:\s+|=)\s*[\"']?([^\"'\s]+)")
STOP_GRACE_S = 10
RESOLVE_TIMEOUT_S = 300


class MissingPythonError(RuntimeError):
    """No CPython 3.12 (MWAA's Python for Airflow 3.3.1) on this machine."""


class RequirementsError(ValueError):
    """requirements.txt cannot be installed; the message is the reason (the resolver's, when it has one)."""


def python312() -> str | None:
    """A working CPython 3.12's real path: ``python3.12`` on PATH, else an installed pyenv 3.12.

    A pyenv shim named python3.12 exists whenever pyenv has a 3.12, but it only runs while 3.12 is a
    selected version; the interpreter itself is under ``$PYENV_ROOT/versions``.
    """
    candidates = [shutil.which("python3.12")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(str(p) for p in pyenv_root.glob("versions/3.12*/bin/python3.12"))
    probe = "import sys; print(sys.executable if sys.version_info[:2] == (3, 12) else '')"
    for candidate in filter(None, candidates):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            found = subprocess.run([candidate, "-c", probe], capture_output=True, text=True, timeout=60)
            if found.returncode == 0 and found.stdout.strip():
                return found.stdout.strip()
    return None


def mwaa_requirements(requirements: str, constraints: Path = CONSTRAINTS) -> str:
    """requirements.txt without its ``--constraint`` line, checked to name our local copy of MWAA's constraints.

    MWAA installs requirements.txt with the constraint URL on its first line. That URL cannot be
    fetched here (no network beyond the package registries): the line is dropped and the local
    copy of the same file, requirements/mwaa-constraints-3.3.1.txt, passed as ``-c`` instead.
    """
    urls = [m.group(1) for line in requirements.splitlines() if (m := _CONSTRAINT_LINE.match(line))]
    copied_from = re.search(r"^#\s*(https://\S+)\s*$", constraints.read_text(), re.MULTILINE)
    if not copied_from:
        raise RequirementsError(f"{constraints} does not say which constraints file it copies")
    if urls and urls != [copied_from.group(1)]:
        raise RequirementsError(f"requirements.txt's constraints {urls} are not {constraints.name}'s")
    return "".join(line for line in requirements.splitlines(keepends=True) if not _CONSTRAINT_LINE.match(line))


@dataclasses.dataclass(frozen=True)
class MwaaVenv:
    root: Path
    built_seconds: float
    reused: bool

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def airflow(self) -> Path:
        return self.root / "bin" / "airflow"


def _tool_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CONDA_PREFIX"))}
    env.update({"UV_PYTHON_DOWNLOADS": "never", "UV_LINK_MODE": "copy", "UV_NO_PROGRESS": "1"})
    return env


def resolver_reason(output: str) -> str:
    """The resolver's reason as one line: uv's ``No solution found ...: Because ...``, without its drawing."""
    lines = [re.sub(r"^[\s\u00d7\u2570\u2500\u25b6\u2502]+", "", line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("hint:", "help:", "warning:"))]
    return " ".join(lines)[:1500] or "the requirements could not be resolved"


def resolve(requirements: str, python: str) -> None:
    """Resolve MWAA's image plus ``requirements`` against the constraints, installing nothing.

    Raises RequirementsError with the resolver's reason (a package that does not exist, a conflict).
    """
    env = _tool_env()
    with tempfile.TemporaryDirectory(prefix="mwaa-resolve-") as folder:
        wanted = Path(folder) / "requirements.in"
        wanted.write_text("\n".join(MWAA_IMAGE) + "\n" + requirements)
        tool = uv(CACHE, env)
        command = [tool, "pip", "compile", "--quiet", "--no-header", "--python", python, "-c", CONSTRAINTS, wanted]
        try:
            run(
                [*command, "-o", Path(folder) / "resolved.txt"],
                what="resolving requirements.txt",
                timeout=RESOLVE_TIMEOUT_S,
                env=env,
            )
        except CommandError as err:
            raise RequirementsError(resolver_reason(err.stderr or err.stdout)) from None


def _build_venv(venv: Path, python: str, requirements: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    tool = uv(CACHE, env)
    shutil.rmtree(venv, ignore_errors=True)
    run([tool, "venv", "--quiet", "--no-project", "--python", python, venv], what="uv venv", timeout=300, env=env)
    local_requirements = venv / "requirements-mwaa.txt"
    local_requirements.write_text(requirements)
    install = [tool, "pip", "install", "--quiet", "--python", venv / "bin" / "python", "-c", CONSTRAINTS]
    run(
        [*install, *MWAA_IMAGE, "-r", local_requirements],
        what="installing MWAA's packages into the Python 3.12 venv",
        timeout=1800,
        env=env,
    )
    return time.monotonic() - started


def _prune(keep: Path) -> None:
    """Remove all but the KEEP most recently used venvs (``keep`` among them)."""
    venvs = sorted(CACHE.glob("py312-*"), key=lambda v: (v == keep, _used_at(v)), reverse=True)
    for stale in venvs[KEEP:]:
        shutil.rmtree(stale, ignore_errors=True)


def _used_at(venv: Path) -> float:
    stamp = venv / ".mwaa-venv.json"
    return stamp.stat().st_mtime if stamp.is_file() else 0.0


def mwaa_venv(requirements_txt: str) -> MwaaVenv:
    """The cached venv for ``requirements_txt`` (the environment's file, constraint line included), built first if
    needed. Raises MissingPythonError without a Python 3.12, RequirementsError when the requirements cannot install."""
    python = python312()
    if python is None:
        raise MissingPythonError("python3.12 (MWAA's Python for Airflow 3.3.1) is not installed on this machine")
    requirements = mwaa_requirements(requirements_txt)
    version = run([python, "-c", "import sys; print(sys.version)"], what="python3.12", timeout=60).stdout.strip()
    key = hashlib.sha256()
    for part in (CONSTRAINTS.read_bytes(), requirements_txt.encode(), "\n".join(MWAA_IMAGE).encode()):
        key.update(hashlib.sha256(part).digest())
    key.update(version.encode())
    venv = CACHE / f"py312-{key.hexdigest()[:16]}"
    stamp = venv / ".mwaa-venv.json"
    env = _tool_env()

    CACHE.mkdir(exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run building the same venv waits for it
        if stamp.is_file():
            stamp.touch()  # recently used: kept by _prune
            return MwaaVenv(venv, json.loads(stamp.read_text())["built_seconds"], reused=True)
        resolve(requirements, python)
        seconds = _build_venv(venv, python, requirements, env)
        stamp.write_text(json.dumps({"built_seconds": round(seconds, 1), "python": version}) + "\n")
        _prune(venv)
        return MwaaVenv(venv, round(seconds, 1), reused=False)


def startup_exports(script: Path, env: Mapping[str, str]) -> dict[str, str]:
    """The variables ``startup.sh`` exports when bash sources it, as MWAA does before Airflow starts."""
    sourced = run(
        ["bash", "-c", '. "$1" >/dev/null && env -0', "bash", script], what="sourcing startup.sh", timeout=30, env=env
    )
    after = dict(item.split("=", 1) for item in sourced.stdout.split("\0") if "=" in item)
    return {k: v for k, v in after.items() if env.get(k) != v and k not in {"_", "SHLVL", "PWD", "OLDPWD"}}


@dataclasses.dataclass(frozen=True)
class MwaaHome:
    home: Path
    env: dict[str, str]
    venv: MwaaVenv
    exports: dict[str, str]
    reserialized: str = ""  # what `airflow dags reserialize` printed (stdout and stderr)

    def airflow(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run(
            [self.venv.airflow, *args],
            what=f"airflow {' '.join(args)}",
            timeout=timeout,
            check=check,
            env=self.env,
            cwd=self.home,
        )

    def airflow_logged(self, *args: str, log: Path, timeout: float) -> int:
        """``airflow *args`` with every line of its output appended to ``log``; its exit code.

        The command runs in its own process group, which is ended on a timeout (CommandError showing the
        log's tail) or when the caller is interrupted.
        """
        with (
            log.open("ab") as out,
            subprocess.Popen(
                [str(self.venv.airflow), *args],
                env=self.env,
                cwd=self.home,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            ) as process,
        ):
            try:
                return process.wait(timeout=timeout)
            except BaseException as exc:
                _end(process)
                if isinstance(exc, subprocess.TimeoutExpired):
                    raise CommandError(
                        f"airflow {' '.join(args)} did not finish in {timeout:.0f} s; log {log}:\n"
                        f"{tail(log.read_text(errors='replace'), 8000)}"
                    ) from None
                raise


def _end(process: subprocess.Popen[Any]) -> None:
    """SIGTERM to the process group, SIGKILL once the grace is over."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def lay_out_home(
    home: Path, venv: MwaaVenv, dags: Path, plugins_zip: Path | None = None, startup_script: Path | None = None
) -> MwaaHome:
    """AIRFLOW_HOME ``home`` as on MWAA: ``dags`` as its dags folder, the unzipped plugins and what the startup
    script exports (an environment may have neither)."""
    shutil.copytree(dags, home / "dags")
    (home / "plugins").mkdir(parents=True, exist_ok=True)
    if plugins_zip is not None:
        with zipfile.ZipFile(plugins_zip) as plugins:
            plugins.extractall(home / "plugins")
    # Nothing of the repository or of the developer's Airflow: no PYTHONPATH, no AIRFLOW_* settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))}
    env.update(
        {
            "PATH": f"{venv.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "NO_COLOR": "1",
            "TERM": "dumb",
            "COLUMNS": "250",
        }
    )
    exports = startup_exports(startup_script, env) if startup_script is not None else {}
    env.update(exports)
    return MwaaHome(home, env, venv, exports)
