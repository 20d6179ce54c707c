"""``make airflow``: Airflow standalone (SQLite) wired to the local AWS, until Ctrl-C.

Starts the local AWS, deploys stage ``local``, then runs ``airflow standalone``
with AIRFLOW_HOME=.airflow and the ``aws_default`` connection pointing at the
emulator. Ctrl-C (or SIGTERM) stops Airflow and the local AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request

from employee_pipeline.config import pipeline_names
from infra import ROOT
from infra.airflow_env import LOCAL_STAGE, airflow_env
from infra.deploy import deploy
from infra.local_aws import server
from infra.session import AwsTarget

AIRFLOW_HOME = ROOT / ".airflow"
USER = "admin"
READY_TIMEOUT_S = 180


def _password() -> str:
    """A stable local password, kept in AIRFLOW_HOME (the simple auth manager's file)."""
    path = AIRFLOW_HOME / "passwords.json"
    if path.exists():
        return json.loads(path.read_text())[USER]
    password = secrets.token_urlsafe(9)
    path.write_text(json.dumps({USER: password}))
    path.chmod(0o600)
    return password


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    # standalone shuts its components down cleanly on SIGINT (what Ctrl-C sends).
    for sig, grace in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, None)):
        if proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.airflow_local", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=server.DEFAULT_PORT, help="local AWS port")
    parser.add_argument("--airflow-port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")))
    args = parser.parse_args(argv)
    endpoint = server.endpoint_url(port=args.port)
    AIRFLOW_HOME.mkdir(exist_ok=True)
    # SIGTERM ends the session like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.ensure_port_free("127.0.0.1", args.airflow_port)
        print(f"starting the local AWS on {endpoint}", flush=True)
        server.start(port=args.port)
    except server.LocalAwsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    proc = None
    try:
        print(f"deploying stage '{LOCAL_STAGE}'", flush=True)
        deploy(AwsTarget(endpoint_url=endpoint), pipeline_names(LOCAL_STAGE))
        env = airflow_env(AIRFLOW_HOME, endpoint)
        env.update(
            {
                "AIRFLOW__API__PORT": str(args.airflow_port),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(AIRFLOW_HOME / "passwords.json"),
            }
        )
        password = _password()
        log = AIRFLOW_HOME / "standalone.log"
        url = f"http://127.0.0.1:{args.airflow_port}"
        print(
            f"starting Airflow standalone (AIRFLOW_HOME={AIRFLOW_HOME.relative_to(ROOT)}, log {log.relative_to(ROOT)})",
            flush=True,
        )
        with log.open("ab") as out:
            proc = subprocess.Popen(
                ["airflow", "standalone"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(url):
            if proc.poll() is not None:
                print(f"error: Airflow exited with code {proc.returncode}; see {log}", file=sys.stderr)
                return 1
            if time.monotonic() > deadline:
                print(f"error: Airflow did not answer on {url} within {READY_TIMEOUT_S}s; see {log}", file=sys.stderr)
                return 1
            time.sleep(2)
        print(f"\nAirflow is up: {url}  (login: {USER} / {password})")
        print("DAG employee_batch_pipeline runs against the local AWS; unpause or trigger it in the UI.")
        print("Ctrl-C stops Airflow and the local AWS.", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
        return 0
    finally:
        if proc is not None:
            _stop(proc)
        server.stop(args.port)


if __name__ == "__main__":
    sys.exit(main())
