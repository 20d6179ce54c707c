"""Start, stop and check the local AWS (moto server + executors) as a background process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from infra import ROOT

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = int(os.environ.get("LOCAL_AWS_PORT", "4566"))
STATE_DIR = ROOT / ".local-aws"
START_TIMEOUT_S = 60


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
                f"(`python -m infra.local_aws stop --port {port}` if it is ours) or pick another port "
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


def serve(host: str, port: int) -> None:
    """Run the emulator in the foreground until SIGTERM or Ctrl-C."""
    from moto.server import ThreadedMotoServer

    from infra.local_aws.patches import install

    ensure_port_free(host, port)
    install(endpoint_url(host, port))
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"local AWS listening on {endpoint_url(host, port)} (Lambda and Glue executors installed)", flush=True)
    stop.wait()
    server.stop()
    print("local AWS stopped", flush=True)


def start(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Start ``serve`` in the background; return its pid once it answers."""
    ensure_port_free(host, port)
    STATE_DIR.mkdir(exist_ok=True)
    log = log_file(port)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "infra.local_aws", "serve", "--host", host, "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = endpoint_url(host, port)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not is_healthy(url):
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise LocalAwsError(f"the local AWS exited with code {proc.returncode} while starting:\n{tail}")
        if time.monotonic() > deadline:
            proc.kill()
            raise LocalAwsError(f"the local AWS did not answer on {url} within {START_TIMEOUT_S}s (log: {log})")
        time.sleep(0.3)
    _pid_file(port).write_text(json.dumps({"pid": proc.pid, "endpoint_url": url}))
    return proc.pid


def stop(port: int = DEFAULT_PORT, timeout: float = 15.0) -> bool:
    """Stop the emulator started by ``start`` on ``port``; False if none was running."""
    pid_file = _pid_file(port)
    if not pid_file.exists():
        return False
    pid = json.loads(pid_file.read_text())["pid"]
    try:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.2)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pid_file.unlink(missing_ok=True)
    return True
