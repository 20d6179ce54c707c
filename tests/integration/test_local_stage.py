"""``LocalStage`` (make demo, make bench, make airflow, the tests' pipeline) stops what it started, however it ends.

Each test runs its own local AWS on a free port, or the session's where the stage must leave it running.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import textwrap
from pathlib import Path
from typing import Any

import psutil
import pytest

from employee_pipeline.waiting import wait_until
from infra import ROOT
from local_aws import server
from local_run import stage as stage_module
from local_run.stage import LocalStage
from tests.support import interrupts
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

EXIT_TIMEOUT_S = 60


def _emulators(port: int) -> list[str]:
    """The command lines of local AWS processes serving ``port``."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if "local_aws serve" in command and f"--port {port}" in command:
            found.append(command)
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _assert_stopped(port: int) -> None:
    assert _emulators(port) == []
    assert _port_free(port), f"port {port} is still taken"


def test_a_body_that_raises_stops_the_local_aws_and_removes_the_home(tmp_path: Path) -> None:
    port = free_port()
    seen: dict[str, Any] = {}
    try:
        with (
            pytest.raises(RuntimeError, match="the body failed"),
            LocalStage("lstage", port=port, scratch=tmp_path) as stage,
        ):
            seen.update(home=stage.home, healthy=server.is_healthy(stage.endpoint), actions=len(stage.actions))
            seen["role"] = stage.aws.client("iam").get_role(RoleName=stage.names.mwaa_execution_role)["Role"]
            assert stage.env["AIRFLOW_HOME"] == str(stage.home)
            raise RuntimeError("the body failed")
        assert seen["healthy"] and seen["actions"] and seen["role"]
        assert seen["home"].parent == tmp_path and not seen["home"].exists()
        _assert_stopped(port)
    finally:
        server.stop(port)


def test_a_deploy_that_fails_stops_the_local_aws_it_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_: Any, **__: Any) -> None:
        raise PermissionError("deploy refused")

    monkeypatch.setattr(stage_module, "deploy", refused)
    port = free_port()
    try:
        with pytest.raises(PermissionError), LocalStage("lstage", port=port, scratch=tmp_path):
            pytest.fail("entered a stage whose deploy failed")
        _assert_stopped(port)
        assert list(tmp_path.iterdir()) == []
    finally:
        server.stop(port)


def test_a_stage_in_a_running_local_aws_leaves_it_and_its_home(
    local_aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stage_module, "deploy", lambda *_, **__: ([], {}))
    home = tmp_path / "home"
    home.mkdir()
    with pytest.raises(RuntimeError), LocalStage("lstage", endpoint=local_aws, home=home) as stage:
        assert stage.endpoint == local_aws
        raise RuntimeError("the body failed")
    assert server.is_healthy(local_aws)
    assert home.is_dir()


CHILD = """
import json, sys, time
from pathlib import Path
from local_run.stage import LocalStage

port, scratch, ready = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
with LocalStage("lstage", port=port, scratch=scratch) as stage:
    ready.write_text(json.dumps({"home": str(stage.home)}))
    time.sleep(600)
"""


def test_sigterm_stops_what_the_stage_started(tmp_path: Path) -> None:
    """As ``make demo``, ``make bench`` or ``make airflow`` get it from a CI timeout or ``kill``."""
    port, ready, log = free_port(), tmp_path / "ready.json", tmp_path / "child.log"
    args = [sys.executable, "-c", textwrap.dedent(CHILD), str(port), str(tmp_path), str(ready)]
    try:
        with interrupts.child_session(args, log, {**os.environ, "PYTHONPATH": str(ROOT)}) as child:

            def deployed() -> bool:
                if child.poll() is not None:
                    pytest.fail(f"the child ended before the stage was up:\n{log.read_text()[-3000:]}")
                return ready.exists()

            wait_until(deployed, timeout=120, interval=0.3, message="the child's stage did not come up")
            home = Path(json.loads(ready.read_text())["home"])
            assert _emulators(port) and home.is_dir()

            child.send_signal(signal.SIGTERM)
            returncode = child.wait(EXIT_TIMEOUT_S)
            assert "KeyboardInterrupt: SIGTERM received" in log.read_text()
            assert returncode != 0
            _assert_stopped(port)
            assert not home.exists()
    finally:
        server.stop(port)
