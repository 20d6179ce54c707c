"""A local ``airflow standalone`` (scheduler, triggerer, DAG processor, API server) and its REST API."""

from __future__ import annotations

import contextlib
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

# Airflow's default ports for the worker's and the triggerer's log servers.
WORKER_LOG_PORT, TRIGGER_LOG_PORT = 8793, 8794

USER = "admin"
READY_TIMEOUT_S = 180
BUSY_RETRIES = 5


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
    _token: str | None = field(default=None, repr=False)

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the REST API (``/api/v2/...``) as USER."""
        if self._token is None:
            self._token = self._request("POST", "/auth/token", {"username": USER, "password": self.password}, None)[
                "access_token"
            ]
        return self._request(method, path, body, self._token)

    def _request(self, method: str, path: str, body: dict[str, Any] | None, token: str | None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, data=json.dumps(body).encode() if body is not None else None
        )
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for attempt in range(1, BUSY_RETRIES + 1):
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as err:
                detail = err.read().decode(errors="replace")
                # The local standalone runs on SQLite, which answers 503 while another component writes.
                busy = err.code == 503 and "locked" in detail.lower()
                if busy and attempt < BUSY_RETRIES:
                    time.sleep(2 * attempt)
                    continue
                raise RuntimeError(f"{method} {path} -> {err.code}: {detail}") from None
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
) -> dict[str, str]:
    """``env`` plus what the local standalone needs: its API on 127.0.0.1 only, its ports, its executor size."""
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
    }


def start(
    env: dict[str, str],
    home: Path,
    port: int,
    worker_log_port: int = WORKER_LOG_PORT,
    trigger_log_port: int = TRIGGER_LOG_PORT,
) -> Standalone:
    """Start ``airflow standalone`` on ``port`` with AIRFLOW_HOME ``home``; return once the API answers."""
    home.mkdir(parents=True, exist_ok=True)
    password = local_password(home)
    env = standalone_env(env, home, port, worker_log_port, trigger_log_port)
    log = home / "standalone.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            ["airflow", "standalone"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    standalone = Standalone(proc, url=f"http://127.0.0.1:{port}", password=password, log=log)
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while not _healthy(standalone.url):
            if proc.poll() is not None:
                raise AirflowStartError(f"Airflow exited with code {proc.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise AirflowStartError(
                    f"Airflow did not answer on {standalone.url} within {READY_TIMEOUT_S}s; see {log}"
                )
            time.sleep(2)
    except BaseException:
        # Failed or interrupted (Ctrl-C, SIGTERM) while starting: the caller has nothing to stop yet.
        stop(standalone)
        raise
    return standalone


def stop(standalone: Standalone) -> None:
    """Stop every component: SIGINT first (standalone's clean shutdown), then harder.

    Components that left standalone's process group are found as descendants first.
    """
    import psutil

    proc = standalone.proc
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    for sig, grace in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, None)):
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
