"""Start, stop and check the local AWS (moto server + executors) as a background process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from employee_pipeline.waiting import wait_until
from local_aws import ROOT

if TYPE_CHECKING:
    import psutil

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = int(os.environ.get("LOCAL_AWS_PORT", "4566"))
STATE_DIR = ROOT / ".local-aws"
START_TIMEOUT_S = 60
CHILD_GRACE_S = 5


class LocalAwsError(RuntimeError):
    """The local AWS cannot be started, stopped or reached."""


def endpoint_url(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    return f"http://{host}:{port}"


def _pid_file(port: int) -> Path:
    return STATE_DIR / f"local-aws-{port}.pid"


def log_file(port: int) -> Path:
    return STATE_DIR / f"local-aws-{port}.log"


def ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise LocalAwsError(
                f"port {port} on {host} is already in use: stop whatever listens there "
                f"(`python -m local_aws stop --port {port}` if it is ours) or pick another port "
                "with --port / LOCAL_AWS_PORT"
            ) from None


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    """True when the endpoint answers an AWS API call (STS GetCallerIdentity)."""
    import boto3
    from botocore.config import Config

    sts = boto3.client(
        "sts",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 0}),
    )
    try:
        sts.get_caller_identity()
        return True
    except Exception:
        return False


def end_processes(processes: list[psutil.Process], grace: float = CHILD_GRACE_S) -> None:
    """SIGTERM ``processes``, then SIGKILL those still alive after ``grace`` seconds."""
    import psutil

    for signal_name in ("terminate", "kill"):
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                getattr(process, signal_name)()
        _, processes = psutil.wait_procs(processes, timeout=grace)
        if not processes:
            return


def _end_children() -> None:
    """End every process the executors started (Glue drivers with Spark's JVM and workers, Lambda runtimes).

    They run in their own sessions (see the executors), so the emulator's signal reaches none of them.
    """
    import psutil

    end_processes(psutil.Process().children(recursive=True))


def serve(host: str, port: int) -> None:
    """Run the emulator in the foreground until SIGTERM or Ctrl-C.

    moto's app, served as moto's ``ThreadedMotoServer`` serves it (werkzeug, a thread per
    request, moto's request handler), behind ``metrics.LocalEndpoints``: request counts and
    the ``/_local/...`` endpoints, and ``mwaa_api.MwaaApi``: Amazon MWAA, which moto lacks, its
    environments running real Airflows (``mwaa_airflow``, stopped with the server) on networks checked
    against moto's EC2 (``mwaa_network``).
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from local_aws.alarm_evaluator import EVALUATOR
    from local_aws.iam_gate import IamGate
    from local_aws.metrics import LocalEndpoints
    from local_aws.mwaa_airflow import AirflowLauncher
    from local_aws.mwaa_api import MwaaApi
    from local_aws.mwaa_environments import MwaaBackends
    from local_aws.mwaa_network import check_network
    from local_aws.patches import install

    ensure_port_free(host, port)
    install(endpoint_url(host, port))
    airflow = AirflowLauncher(endpoint_url(host, port))
    mwaa = MwaaBackends(airflow=airflow, network_check=check_network)
    app = IamGate(MwaaApi(LocalEndpoints(DomainDispatcherApplication(create_backend_app)), mwaa))
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    serving = threading.Thread(target=server.serve_forever, name="local-aws", daemon=True)
    serving.start()
    EVALUATOR.start()  # CloudWatch's every-minute alarm evaluation
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"local AWS listening on {endpoint_url(host, port)} (Lambda and Glue executors installed)", flush=True)
    stop.wait()
    server.shutdown()
    serving.join()
    EVALUATOR.stop()
    airflow.stop_all()
    _end_children()
    print("local AWS stopped", flush=True)


def start(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Start ``serve`` in the background; return its pid once it answers."""
    ensure_port_free(host, port)
    STATE_DIR.mkdir(exist_ok=True)
    log = log_file(port)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "local_aws", "serve", "--host", host, "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = endpoint_url(host, port)

    def answers() -> bool:
        if is_healthy(url):
            return True
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise LocalAwsError(f"the local AWS exited with code {proc.returncode} while starting:\n{tail}")
        return False

    try:
        wait_until(
            answers,
            timeout=START_TIMEOUT_S,
            interval=0.3,
            message=f"the local AWS did not answer on {url} (log: {log})",
            error=LocalAwsError,
        )
    except BaseException:
        # Failed or interrupted (Ctrl-C, SIGTERM) while starting: no pid file yet, so no `stop` would find it.
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise
    _pid_file(port).write_text(json.dumps({"pid": proc.pid, "endpoint_url": url}))
    return proc.pid


def _emulator(pid: int) -> psutil.Process | None:
    """The emulator's process, or None if ``pid`` ended (or was reused by another program)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if "local_aws" in process.cmdline() and process.status() != psutil.STATUS_ZOMBIE:
            return process
    except psutil.Error:
        pass
    return None


def stop(port: int = DEFAULT_PORT, timeout: float = 15.0) -> bool:
    """Stop the emulator started by ``start`` on ``port``, and all it started; False if none was running."""
    import psutil

    pid_file = _pid_file(port)
    if not pid_file.exists():
        return False
    pid = json.loads(pid_file.read_text())["pid"]
    emulator = _emulator(pid)
    if emulator is not None:
        # Its shutdown ends its children; these are for an emulator that has to be killed.
        family: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            family = emulator.children(recursive=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        # psutil's wait also reaps the emulator when it is our child (os.kill(pid, 0) sees a zombie as alive).
        try:
            emulator.wait(timeout)
        except psutil.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(psutil.TimeoutExpired):
                emulator.wait(CHILD_GRACE_S)
        end_processes(family)
    pid_file.unlink(missing_ok=True)
    return True
