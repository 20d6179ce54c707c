"""A real Airflow behind each of the local AWS's MWAA environments, started from its source bucket.

CreateEnvironment and UpdateEnvironment start ``AirflowLauncher.start`` in a thread: the
environment's files are read from its source bucket as its execution role (``mwaa_source``), its
requirements.txt installed into MWAA's Python 3.12 venv (``mwaa_venv``, cached; resolved first, so
a requirements.txt that cannot install fails in seconds), AIRFLOW_HOME laid out as MWAA's, and
``airflow standalone`` (api-server, scheduler, dag-processor, triggerer; ``local_run.airflow_standalone``)
started with the venv's ``airflow`` in its own process group. Its environment: what startup.sh
exports, the environment's ``AirflowConfigurationOptions`` as ``AIRFLOW__SECTION__KEY``, an
``aws_default`` connection with the region and the local endpoint, and the execution role's
credentials from the container credentials endpoint (``airflow-env.amazonaws.com``), never the
administrator's keys. The metadata database is SQLite in AIRFLOW_HOME, chosen by start-up speed: its
API answered 12 s after start (the whole environment is AVAILABLE in 15-30 s), while the throwaway
PostgreSQL adds its own start (about 2 s) and needs a driver the venv does not have (it holds only
``mwaa_venv.MWAA_IMAGE`` and requirements.txt), so it would be a package MWAA's requirements never ask for.

The environment is ``CREATING``/``UPDATING`` until the API answers and the DAG processor has parsed
the dags folder (at least one DAG or import error, then no change for ``SETTLE_S``), then ``AVAILABLE``.
It ends ``CREATE_FAILED``/``UPDATE_FAILED`` with ``LastUpdate.Error`` = ``{ErrorCode, ErrorMessage}``.
AWS documents no list of ``ErrorCode`` values, so these are the local AWS's own:

* ``SourceUnreadable``: the execution role cannot be assumed or may not read an object (the refusal);
* ``RequirementsInstallFailed``: the resolver's reason (``No solution found ...: Because x was not
  found in the package registry ...``), or the installer's last lines;
* ``DagImportError``: ``Broken DAG: [dags/<file>] <exception>``, as Airflow's UI words it;
* ``PluginImportError``: ``Broken plugin: [plugins/<file>] <exception>``, the first error Airflow's API
  lists (a module that needs the dags folder on sys.path is one: the API server has it not);
* ``StartupScriptFailed``: sourcing startup.sh failed (its output);
* ``AirflowExited`` / ``AirflowStartTimeout``: Airflow ended or did not answer (the log's path);
* ``InternalError``: a defect of the local AWS (the exception), so the transition still ends.

An update starts the new Airflow beside the previous one, which serves until the new one is ready and
is then stopped; an update that fails stops only the new one, so the previous Airflow goes on serving
(AWS rolls a failed update back to the previous environment). The processes are stopped on
DeleteEnvironment, on a later update, and when the server stops (``stop_all``; at exit too). Each
attempt's home is ``.local-aws/mwaa/<account>-<region>-<name>/<id>/home`` (Airflow's log:
``standalone.log`` there); a replaced or deleted environment's homes are removed, a failed attempt's
stays for its log. ``LOCAL_AWS_MWAA_AIRFLOW`` (``on``, the default, or ``off``; read when the server
starts) and an environment's ``local-aws:airflow`` tag (``on``/``off``, which wins) choose: with
``off`` the environment is only the state machine of ``mwaa_environments`` (control-plane tests stay fast).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_aws import ROOT, mwaa_source, mwaa_venv
from local_aws.mwaa_errors import MwaaError, ValidationException
from local_aws.tool_commands import CommandError

SWITCH = "LOCAL_AWS_MWAA_AIRFLOW"
TAG = "local-aws:airflow"
STATE_DIR = ROOT / ".local-aws" / "mwaa"
DATABASE = "sqlite"
PARSE_TIMEOUT_S = 180
SETTLE_S = 3.0


def switch_on(value: str | None = None) -> bool:
    """The server's setting: ``LOCAL_AWS_MWAA_AIRFLOW``, ``on`` unless ``off``."""
    raw = (os.environ.get(SWITCH, "on") if value is None else value).strip().lower()
    if raw not in ("on", "off"):
        raise ValueError(f"{SWITCH}={raw!r}: expected on or off")
    return raw == "on"


def check_tag(tags: dict[str, str]) -> None:
    if TAG in tags and tags[TAG] not in ("on", "off"):
        raise ValidationException(f"Tag {TAG}={tags[TAG]}: expected on or off.")


class StartFailed(MwaaError):
    """The environment's Airflow did not start; ``code`` is LastUpdate.Error's ErrorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Running:
    """One started Airflow: its home (kept to start it again) and its standalone."""

    home: mwaa_venv.MwaaHome
    env: dict[str, str]
    standalone: Any = None  # local_run.airflow_standalone.Standalone


@dataclass
class Job:
    """A start or stop running in its thread: ``error`` ({ErrorCode, ErrorMessage}) and ``running`` once done."""

    done: threading.Event = field(default_factory=threading.Event)
    error: dict[str, str] | None = None
    running: Running | None = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AirflowLauncher:
    """Starts and stops the environments' Airflows for a local AWS serving ``endpoint_url``."""

    def __init__(self, endpoint_url: str, default_on: bool | None = None, state_dir: Path = STATE_DIR) -> None:
        self.endpoint_url = endpoint_url
        self.default_on = switch_on() if default_on is None else default_on
        self.state_dir = state_dir
        self._lock = threading.Lock()
        self._running: dict[int, Running] = {}
        atexit.register(self.stop_all)

    def wanted(self, tags: dict[str, str]) -> bool:
        """Whether an environment with ``tags`` runs Airflow: its ``local-aws:airflow`` tag, else the server's."""
        check_tag(tags)
        return tags[TAG] == "on" if TAG in tags else self.default_on

    def start(self, name: str, account: str, region: str, config: dict[str, Any], previous: Running | None) -> Job:
        job = Job()
        args = (job, name, account, region, config, previous)
        threading.Thread(target=self._start, args=args, name=f"mwaa-{name}", daemon=True).start()
        return job

    def stop(self, running: Running | None, forget: tuple[str, str, str] | None = None) -> Job:
        """Stop ``running``; with ``forget`` = (name, account, region), the environment is deleted: its homes go too."""
        job = Job()

        def stop() -> None:
            try:
                self._stop(running)
                if forget is not None:
                    name, account, region = forget
                    shutil.rmtree(self._folder(name, account, region), ignore_errors=True)
            finally:
                job.done.set()

        threading.Thread(target=stop, name="mwaa-stop", daemon=True).start()
        return job

    def stop_all(self) -> None:
        """Stop every Airflow still running (the server is stopping)."""
        with self._lock:
            running = list(self._running.values())
        for each in running:
            self._stop(each)

    def _folder(self, name: str, account: str, region: str) -> Path:
        return self.state_dir / f"{account}-{region}-{name}"

    # The work, in the jobs' threads.

    def _start(
        self, job: Job, name: str, account: str, region: str, config: dict[str, Any], previous: Running | None
    ) -> None:
        try:
            prepared = self._prepare(name, account, region, config)
            job.running = self._launch(prepared)  # the previous Airflow serves until this one is ready
            self._stop(previous)
            if previous is not None:  # replaced: its home is not needed any more (failed ones stay, with logs)
                shutil.rmtree(previous.home.home.parent, ignore_errors=True)
        except StartFailed as err:
            job.error = {"ErrorCode": err.code, "ErrorMessage": err.message}
            job.running = job.running or previous
        except Exception as err:  # a defect here must still end the transition
            job.error = {"ErrorCode": "InternalError", "ErrorMessage": f"{type(err).__name__}: {err}"}
            job.running = job.running or previous
        finally:
            job.done.set()

    def _prepare(self, name: str, account: str, region: str, config: dict[str, Any]) -> Running:
        """The environment's files fetched, its venv ready and its home laid out; nothing started yet."""
        folder = self._folder(name, account, region) / uuid.uuid4().hex[:8]
        try:
            source = mwaa_source.fetch(config, account, region, self.endpoint_url, folder / "source")
        except mwaa_source.SourceUnreadable as err:
            raise StartFailed(err.code, err.message) from None
        try:
            venv = mwaa_venv.mwaa_venv(source.requirements_txt)
        except (mwaa_venv.RequirementsError, mwaa_venv.MissingPythonError) as err:
            raise StartFailed("RequirementsInstallFailed", f"requirements.txt: {err}") from None
        except CommandError as err:
            raise StartFailed("RequirementsInstallFailed", f"requirements.txt: {str(err)[-1500:]}") from None
        try:
            home = mwaa_venv.lay_out_home(folder / "home", venv, source.dags, source.plugins_zip, source.startup_script)
        except CommandError as err:
            raise StartFailed("StartupScriptFailed", f"startup.sh: {str(err)[-1500:]}") from None
        shutil.rmtree(folder / "source", ignore_errors=True)
        return Running(home, self._airflow_env(home, region, config))

    def _airflow_env(self, home: mwaa_venv.MwaaHome, region: str, config: dict[str, Any]) -> dict[str, str]:
        from local_run.airflow_env import STATIC_CREDENTIALS, aws_connection, config_env_var, task_credentials_env

        env = {k: v for k, v in home.env.items() if k not in STATIC_CREDENTIALS}
        env.update({config_env_var(option): value for option, value in config["AirflowConfigurationOptions"].items()})
        env["AIRFLOW_CONN_AWS_DEFAULT"] = aws_connection(region, self.endpoint_url)
        env["AWS_DEFAULT_REGION"] = region
        role = config["ExecutionRoleArn"].rpartition("/")[2]
        env.update(task_credentials_env(self.endpoint_url, role))
        env.update(task_log_env(config))
        return env

    def _launch(self, prepared: Running) -> Running:
        """Start ``prepared``'s Airflow; return once the DAG processor has parsed the dags folder."""
        from local_run import airflow_standalone

        home = prepared.home
        try:
            standalone = airflow_standalone.start(
                prepared.env,
                home.home,
                _free_port(),
                _free_port(),
                _free_port(),
                database=DATABASE,
                airflow=str(home.venv.airflow),
                cwd=home.home,
            )
        except airflow_standalone.AirflowStartError as err:
            raise StartFailed("AirflowExited", str(err)) from None
        running = Running(home, prepared.env, standalone)
        with self._lock:
            self._running[id(running)] = running
        try:
            _wait_parsed(running)
        except BaseException:
            self._stop(running)
            raise
        return running

    def _stop(self, running: Running | None) -> None:
        if running is None or running.standalone is None:
            return
        from local_run import airflow_standalone

        with self._lock:
            self._running.pop(id(running), None)
        airflow_standalone.stop(running.standalone)


def task_log_env(config: dict[str, Any]) -> dict[str, str]:
    """Task logs to the environment's CloudWatch group when ``TaskLogs`` is enabled, as on MWAA: Airflow's
    CloudWatch remote logging (the amazon provider), as the execution role; the UI reads them back there."""
    task_logs = config.get("LoggingConfiguration", {}).get("TaskLogs", {})
    if not task_logs.get("Enabled"):
        return {}
    return {
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
        "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": "aws_default",
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": f"cloudwatch://{task_logs['CloudWatchLogGroupArn']}",
    }


def _wait_parsed(running: Running) -> None:
    """Until the DAG processor has parsed the dags folder; StartFailed on an import error or Airflow's exit."""
    standalone, dags = running.standalone, running.home.home / "dags"
    deadline, seen, stable_since = time.monotonic() + PARSE_TIMEOUT_S, None, time.monotonic()
    expect_dags = any(
        b"dag" in text.lower() and b"airflow" in text.lower()
        for text in (path.read_bytes() for path in dags.rglob("*.py"))
    )
    while True:
        if standalone.proc.poll() is not None:
            raise StartFailed(
                "AirflowExited", f"Airflow exited with code {standalone.proc.returncode}; see {standalone.log}"
            )
        try:
            dag_count = standalone.api("GET", "/api/v2/dags?limit=1")["total_entries"]
            errors = standalone.api("GET", "/api/v2/importErrors")["import_errors"]
        except RuntimeError:
            dag_count, errors = 0, []
        if errors:
            first = errors[0]
            message = first["stack_trace"].strip().splitlines()[-1] if first.get("stack_trace") else ""
            raise StartFailed("DagImportError", f"Broken DAG: [{_relative(first['filename'], dags)}] {message}")
        state = dag_count
        if state != seen:
            seen, stable_since = state, time.monotonic()
        elif (dag_count or not expect_dags) and time.monotonic() - stable_since >= SETTLE_S:
            break
        if time.monotonic() > deadline:
            raise StartFailed(
                "AirflowStartTimeout",
                f"The DAG processor did not parse the dags folder in {PARSE_TIMEOUT_S} s; see {standalone.log}",
            )
        time.sleep(1)
    check_plugin_errors(running)


def check_plugin_errors(running: Running) -> None:
    """StartFailed for the first plugin import error Airflow's API lists."""
    for error in running.standalone.api("GET", "/api/v2/plugins/importErrors")["import_errors"]:
        plugins = running.home.home / "plugins"
        raise StartFailed(
            "PluginImportError", f"Broken plugin: [{_relative(error['source'], plugins)}] {error['error']}"
        )


def _relative(path: str, folder: Path) -> str:
    """``path`` (absolute, or relative to ``folder`` as Airflow 3 records a bundle's files) as ``<folder>/...``."""
    try:
        return f"{folder.name}/{Path(path).relative_to(folder) if Path(path).is_absolute() else path}"
    except ValueError:
        return path
