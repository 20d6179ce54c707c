"""A local ``airflow standalone`` (scheduler, triggerer, DAG processor, API server) and its REST API.

Its metadata database is a throwaway PostgreSQL (``local_run.postgres``), as on MWAA; SQLite on request.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from employee_pipeline.waiting import wait_until
from local_run import postgres

# Airflow's default ports for the worker's and the triggerer's log servers.
WORKER_LOG_PORT, TRIGGER_LOG_PORT = 8793, 8794

USER = "admin"
READY_TIMEOUT_S = 180
DATABASES = ("postgres", "sqlite")
# A call that may have taken effect before it failed is sent once: only these are retried.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
TRANSIENT_ATTEMPTS = 5
RETRY_DELAY_S = 2.0


class AirflowStartError(RuntimeError):
    """Airflow standalone exited or did not answer in time."""


def password_file(home: Path) -> Path:
    return home / "passwords.json"


def local_password(home: Path) -> str:
    """A stable password for USER, kept in AIRFLOW_HOME as the simple auth manager's file."""
    path = password_file(home)
    if path.exists():
        return json.loads(path.read_text())[USER]
    password = secrets.token_urlsafe(9)
    path.write_text(json.dumps({USER: password}))
    path.chmod(0o600)
    return password


@dataclass
class Standalone:
    proc: subprocess.Popen
    url: str
    password: str
    log: Path
    database: postgres.Postgres | None = None
    _token: str | None = field(default=None, repr=False)

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the REST API (``/api/v2/...``) as USER."""
        return self._request(method, path, body, self.token())

    def token(self) -> str:
        """A JWT of USER for the REST API."""
        if self._token is None:
            self._token = self._request("POST", "/auth/token", {"username": USER, "password": self.password}, None)[
                "access_token"
            ]
        return self._token

    def _request(self, method: str, path: str, body: dict[str, Any] | None, token: str | None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, data=json.dumps(body).encode() if body is not None else None
        )
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        attempts = TRANSIENT_ATTEMPTS if method in IDEMPOTENT else 1
        for attempt in range(1, attempts + 1):
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as err:
                detail = err.read().decode(errors="replace")
                if err.code == 503 and attempt < attempts:
                    time.sleep(RETRY_DELAY_S * attempt)
                    continue
                raise RuntimeError(f"{method} {path} -> {err.code}: {detail}") from None
            except (urllib.error.URLError, http.client.HTTPException, ConnectionResetError) as err:
                reset = isinstance(getattr(err, "reason", err), ConnectionResetError)
                if reset and attempt < attempts:
                    time.sleep(RETRY_DELAY_S * attempt)
                    continue
                raise RuntimeError(f"{method} {path} -> {err}") from err
        raise AssertionError("unreachable")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def executor_slots(cpus: int | None = None) -> int:
    """Task slots for the local executor: two per core, at least 4 (a waiting sensor holds one).

    Airflow's default of 32 starts 32 idle worker processes on a laptop.
    """
    return max(4, 2 * (cpus or os.cpu_count() or 1))


def standalone_env(
    env: dict[str, str],
    home: Path,
    port: int,
    worker_log_port: int = WORKER_LOG_PORT,
    trigger_log_port: int = TRIGGER_LOG_PORT,
    database_url: str | None = None,
) -> dict[str, str]:
    """``env`` plus what the local standalone needs: its API on 127.0.0.1 only, its ports, its executor size,
    and its metadata database when ``database_url`` is given (AIRFLOW_HOME's SQLite otherwise)."""
    database = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url} if database_url else {}
    return {
        **env,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_log_port),
        "AIRFLOW__CORE__PARALLELISM": str(executor_slots()),
        # Workers reach the API server here; the default assumes port 8080.
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file(home)),
        **database,
    }


def start(
    env: dict[str, str],
    home: Path,
    port: int,
    worker_log_port: int = WORKER_LOG_PORT,
    trigger_log_port: int = TRIGGER_LOG_PORT,
    database: str = "postgres",
    airflow: str = "airflow",
    cwd: Path | None = None,
) -> Standalone:
    """Start ``airflow standalone`` on ``port`` (its password file and log in ``home``) on a fresh PostgreSQL
    for ``env``'s AIRFLOW_HOME, or on that home's SQLite (``database="sqlite"``); return once the API answers.
    Standalone creates the tables itself and keeps Airflow's LocalExecutor, sized by ``standalone_env``.
    ``airflow`` is the executable (another venv's, such as MWAA's), run in ``cwd``."""
    if database not in DATABASES:
        raise ValueError(f"database must be one of {DATABASES}, not {database!r}")
    home.mkdir(parents=True, exist_ok=True)
    password = local_password(home)
    log = home / "standalone.log"
    server = None
    try:
        if database == "postgres":
            server = postgres.start(Path(env["AIRFLOW_HOME"]))
        env = standalone_env(
            env, home, port, worker_log_port, trigger_log_port, database_url=server.url if server else None
        )
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [airflow, "standalone"],
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
    except BaseException:
        if server:
            postgres.stop(server)
        raise
    standalone = Standalone(proc, url=f"http://127.0.0.1:{port}", password=password, log=log, database=server)

    def answers() -> bool:
        if _healthy(standalone.url):
            return True
        if proc.poll() is not None:
            raise AirflowStartError(f"Airflow exited with code {proc.returncode}; see {log}")
        return False

    try:
        wait_until(
            answers,
            timeout=READY_TIMEOUT_S,
            interval=2,
            message=f"Airflow did not answer on {standalone.url}; see {log}",
            error=AirflowStartError,
        )
    except BaseException:
        # Failed or interrupted (Ctrl-C, SIGTERM) while starting: the caller has nothing to stop yet.
        stop(standalone)
        raise
    return standalone


def stop(standalone: Standalone) -> None:
    """Stop every component: SIGTERM, then SIGKILL; then its PostgreSQL.

    SIGTERM is what standalone itself sends each component when it shuts down; sent to the whole group,
    every component gets it at once, and all had exited about 11 s later. (After SIGINT, standalone stops
    its components one by one and had not exited 40 s later.) Components that left standalone's process
    group are found as descendants first.
    """
    try:
        _stop_airflow(standalone.proc)
    finally:
        if standalone.database:
            postgres.stop(standalone.database)


def _stop_airflow(proc: subprocess.Popen) -> None:
    import psutil

    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
        if proc.poll() is not None:
            break
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    for signal_name in ("terminate", "kill"):
        for process in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                getattr(process, signal_name)()
        _, family = psutil.wait_procs(family, timeout=10)
        if not family:
            return
