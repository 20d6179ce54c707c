"""An interrupted test session (SIGTERM, as a CI timeout sends) leaves nothing running.

A child pytest runs tests/interrupt_fixture/interrupted_session.py: the local AWS fixture with a Glue
job (PySpark) and a Lambda invocation in flight, and ``run_dag`` blocked on a stand-in ``airflow``.
Once all of it runs, the child gets SIGTERM; every process it had started must end with it.
Also: the emulator signalled alone (``kill PID``, Ctrl-C on ``serve``) ends the jobs it runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

from employee_pipeline.waiting import wait_until
from infra import ROOT
from local_aws import server
from tests.interrupt_fixture.interrupted_session import PLAIN_GLUE_SCRIPT, start_glue_and_lambda
from tests.support import interrupts
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

HELPER = Path(__file__).parents[1] / "interrupt_fixture" / "interrupted_session.py"
READY_TIMEOUT_S = 75
EXIT_TIMEOUT_S = 30
# What must be running when the signal comes, by a part of its command line.
EXPECTED = {
    "the local AWS": "local_aws serve",
    "the Glue driver": "glue-run-",
    "Spark's JVM": "org.apache.spark",
    "PySpark's worker daemon (its own process group)": "pyspark.daemon",
    "the Lambda runtime": "lambda_runtime.py",
    "the stand-in `airflow dags test`": "bin/airflow dags test",
    "its task process": "time.sleep(600)",
}


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return f"<pid {process.pid} gone>"


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are not a listener
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _wait_until_in_flight(child: subprocess.Popen[bytes], work: Path, log: Path) -> None:
    def in_flight() -> bool:
        if (work / "ready.json").exists() and (work / "airflow").exists():
            return True
        if child.poll() is not None:
            pytest.fail(f"the child session ended before everything ran:\n{log.read_text()[-3000:]}")
        return False

    wait_until(
        in_flight,
        timeout=READY_TIMEOUT_S,
        interval=0.3,
        message="the child session did not get everything running",
        error=lambda text: AssertionError(f"{text}:\n{log.read_text()[-3000:]}"),
    )


def test_this_session_turns_sigterm_sighup_and_sigint_into_a_keyboard_interrupt() -> None:
    # Only SIGTERM is sent below (each signal costs a child session); the others share its handler.
    assert all(signal.getsignal(s) is interrupts.interrupt for s in interrupts.SIGNALS)


def test_sigterm_to_the_session_stops_the_local_aws_its_jobs_and_dag_runs(tmp_path: Path) -> None:
    work, log = tmp_path / "work", tmp_path / "child.log"
    work.mkdir()
    args = [sys.executable, "-m", "pytest", str(HELPER.relative_to(ROOT)), "-p", "no:cacheprovider", "-q"]
    family: list[psutil.Process] = []
    port = None
    try:
        with interrupts.child_session(args, log, {**os.environ, "INTERRUPT_FIXTURE_DIR": str(work)}) as child:
            _wait_until_in_flight(child, work, log)
            port = urlsplit(json.loads((work / "ready.json").read_text())["endpoint_url"]).port
            family = psutil.Process(child.pid).children(recursive=True)
            commands = [_command(p) for p in family]
            missing = [what for what, part in EXPECTED.items() if not any(part in c for c in commands)]
            assert not missing, f"not running before the signal: {missing}; running: {commands}"

            child.send_signal(signal.SIGTERM)
            try:
                returncode = child.wait(EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the child session still runs {EXIT_TIMEOUT_S}s after SIGTERM:\n{log.read_text()[-3000:]}")
            psutil.wait_procs(family, timeout=5)  # orphans are reaped by init
            survivors = [_command(p) for p in family if _alive(p)]
            assert not survivors, f"still running after the session ended: {survivors}\n{log.read_text()[-3000:]}"
            assert returncode == pytest.ExitCode.INTERRUPTED, log.read_text()[-3000:]
            assert "SIGTERM received" in log.read_text()
            assert _port_free(port), f"port {port} is still taken"
    finally:
        # Leave nothing behind when this test fails either (the child itself is killed on leaving the block).
        for process in family:
            with contextlib.suppress(psutil.Error):
                process.kill()
        if port is not None:
            server.stop(port)


def test_the_local_aws_signalled_alone_ends_the_glue_and_lambda_processes_it_runs(tmp_path: Path) -> None:
    port = free_port()
    emulator = psutil.Process(server.start(port=port))
    family: list[psutil.Process] = []
    try:
        start_glue_and_lambda(server.endpoint_url(port=port), tmp_path, PLAIN_GLUE_SCRIPT)
        family = emulator.children(recursive=True)
        commands = [_command(p) for p in family]
        expected = {"the Glue driver": "glue-run-", "its child": "time.sleep(600)", "Lambda": "lambda_runtime.py"}
        missing = [what for what, part in expected.items() if not any(part in c for c in commands)]
        assert not missing, f"not running before the signal: {missing}; running: {commands}"

        emulator.send_signal(signal.SIGTERM)  # to it alone, not to its process group
        emulator.wait(EXIT_TIMEOUT_S)
        psutil.wait_procs(family, timeout=5)
        survivors = [_command(p) for p in family if _alive(p)]
        assert not survivors, f"still running after the local AWS stopped: {survivors}"
    finally:
        for process in family:
            with contextlib.suppress(psutil.Error):
                process.kill()
        server.stop(port)
