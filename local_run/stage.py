"""A local stage: the local AWS started, a stage deployed into it, an Airflow environment wired to it.

What ``make demo``, ``make bench``, ``make airflow`` and the tests' fixtures share::

    with LocalStage("local", port=4566, migrate=True, progress=print) as stage:
        stage.run_batch(hour, conf, log)

On exit, whether the block returned, raised or was interrupted (Ctrl-C; SIGTERM too), it stops what it
started: the local AWS it started and the temporary AIRFLOW_HOME it made. A stage deployed into a
local AWS that is already running (``endpoint``) leaves that one running.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from employee_pipeline.config import PipelineNames, pipeline_names
from infra import mwaa_role
from infra.actions import Action
from infra.deploy import deploy
from infra.session import AwsTarget
from local_aws import server
from local_run import dag_run
from local_run.airflow_env import LOCAL_STAGE, airflow_env


def _quiet(_: str) -> None:
    pass


@contextlib.contextmanager
def running_local_aws(port: int = server.DEFAULT_PORT) -> Iterator[str]:
    """The local AWS on ``port`` while the block runs (its endpoint), stopped however the block ends.

    ``server.LocalAwsError`` if it cannot start (the port is taken, it exited or did not answer).
    """
    server.start(port=port)
    try:
        yield server.endpoint_url(port=port)
    finally:
        server.stop(port)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM raises KeyboardInterrupt as Ctrl-C does, so the block's cleanup runs.

    Only where nobody handles SIGTERM yet, in the main thread (the test session installs its own handler):
    elsewhere this changes nothing. Later SIGTERMs are ignored, so they cannot cut the cleanup short.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    received = False

    def interrupt(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        if received:
            return
        received = True
        raise KeyboardInterrupt("SIGTERM received: stopping")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


class LocalStage:
    """A stage of the pipeline in the local AWS, with an Airflow environment to run the DAG against it.

    A context manager: entering starts the local AWS on ``port`` (unless ``endpoint`` names one already
    running), deploys ``stage`` with infra (with its MWAA execution role), builds the Airflow environment
    for AIRFLOW_HOME ``home`` and, with ``migrate``, creates its metadata database (``airflow db migrate``,
    logged to ``home/migrate.log``; or call ``migrate`` with a log of your own). Without ``home``, a fresh temporary one
    under ``scratch`` (the system's temporary folder by default), removed on exit unless ``keep_home``.
    ``progress`` is told each step. Exiting stops what entering started, also when the block raised or
    was interrupted, and if entering fails half-way.

    Once entered: ``names``, ``endpoint``, ``aws`` (an AwsTarget), ``actions`` (what deploy did),
    ``home`` and ``env`` (Airflow's environment).
    """

    def __init__(
        self,
        stage: str = LOCAL_STAGE,
        *,
        port: int = server.DEFAULT_PORT,
        endpoint: str | None = None,
        home: Path | None = None,
        scratch: Path | None = None,
        keep_home: bool = False,
        migrate: bool = False,
        progress: Callable[[str], None] = _quiet,
    ) -> None:
        self.names: PipelineNames = pipeline_names(stage)
        self.port = port
        self.endpoint = endpoint or server.endpoint_url(port=port)
        self._starts_aws = endpoint is None
        self._home, self._scratch, self._keep_home = home, scratch, keep_home
        self._migrate = migrate
        self._progress = progress
        self._exit: contextlib.ExitStack | None = None
        self.aws = AwsTarget(endpoint_url=self.endpoint)
        self.actions: list[Action] = []
        self.home: Path = home or Path()
        self.env: dict[str, str] = {}

    def __enter__(self) -> LocalStage:
        if self._exit is not None:
            raise RuntimeError(f"stage {self.names.stage} is already entered")
        with contextlib.ExitStack() as started:
            started.enter_context(sigterm_as_interrupt())
            if self._home is None:
                self.home = Path(tempfile.mkdtemp(prefix="airflow-home-", dir=self._scratch))
                if not self._keep_home:
                    started.callback(shutil.rmtree, self.home, ignore_errors=True)
            if self._starts_aws:
                self._progress(f"starting the local AWS on {self.endpoint}")
                started.enter_context(running_local_aws(self.port))
            self._progress(f"deploying stage '{self.names.stage}'")
            self.actions, _ = deploy(self.aws, self.names, mwaa=mwaa_role.default_environment(self.names))
            self.env = airflow_env(self.home, self.endpoint, stage=self.names.stage)
            if self._migrate:
                log = self.home / "migrate.log"
                self._progress(f"migrating Airflow's metadata database (log: {log})")
                self.migrate(log)
            self._exit = started.pop_all()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        exit_stack, self._exit = self._exit, None
        if exit_stack is not None:
            exit_stack.close()

    def migrate(self, log: Path) -> None:
        """``airflow db migrate`` for the stage's AIRFLOW_HOME; its output goes to ``log``."""
        dag_run.migrate(self.env, log)

    def run_batch(self, hour: datetime, conf: dict[str, object], log: Path, **kwargs: Any) -> dag_run.DagRunResult:
        """One DAG run (``airflow dags test``) for the batch of ``hour``: ``dag_run.run_batch`` on this stage."""
        return dag_run.run_batch(self.env, hour, conf, log, **kwargs)
