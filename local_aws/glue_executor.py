"""Runs Glue job runs locally: the job's script from emulated S3, with PySpark, in a subprocess.

A run reports RUNNING while the script runs, then SUCCEEDED, or FAILED with
the exception line as ``ErrorMessage`` (TIMEOUT past the job's timeout). Its
output goes to CloudWatch Logs as Glue 5.0 writes it ("Logging for AWS Glue jobs"):
the script's stdout and stderr to ``/aws-glue/jobs/output``, Spark's own log lines
(its log4j records and console messages) to ``/aws-glue/jobs/error``, both in the
stream ``<run id>-driver``. Glue gives each executor a ``<run id>-<executor id>``
stream too; a local run has no executor output apart from the driver's (local-mode
Spark's Python workers write to the driver's stderr), so everything is the driver's.

The driver and Spark's Python workers run as Glue's Python does: the interpreter's own libraries
(PySpark, boto3) and the job's ``--extra-py-files`` (each read from S3 with the job's role, as
``ScriptLocation`` is), on ``PYTHONPATH``; nothing else. They start with ``-S``, so no ``.pth`` file
runs: an editable install of the project (which puts its packages on every interpreter's path) cannot
stand in for a zip the job forgot to ship.

Each run's wall time and peak memory go to ``metrics.GLUE_RUNS`` (``GET /_local/glue-runs``):
the driver's whole process tree (Spark's JVM, PySpark's daemon and workers are its
descendants) is sampled every ``metrics.SAMPLE_INTERVAL_S`` while the run waits for it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import site
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from local_aws import metrics
from local_aws.glue_spark_conf import spark_conf_dir
from local_aws.iam_gate import may_write_log
from local_aws.iam_principals import SERVICE_SESSIONS, Credentials

LOG_GROUP = "/aws-glue/jobs"
# A line that starts one of Spark's log4j records (its default layout: "25/01/31 12:00:00 WARN Class: ..."),
# or that Spark prints on the console itself (log level hints, the stage progress bar).
_SPARK_LINE = re.compile(
    r"^(\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) "
    r"|Setting default log level to |To adjust logging level use |\r|\[Stage \d)"
)
# A line that continues the record above it (stack frames, "Caused by:").
_CONTINUATION = re.compile(r"^(\s|Caused by: |Suppressed: )")
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)[\w.]*)(?::\s*(.*))?$")
_state: dict[str, Any] = {"endpoint_url": None}
EXTRA_PY_FILES = "--extra-py-files"


def configure(endpoint_url: str) -> None:
    _state["endpoint_url"] = endpoint_url


def _now() -> datetime:
    return datetime.now(UTC)


class _LogSink:
    """Appends lines to one CloudWatch log stream of the emulator."""

    def __init__(self, account_id: str, region: str, group: str, stream: str, role_arn: str) -> None:
        from moto.logs.models import logs_backends

        self._backend = logs_backends[account_id][region]
        self._group, self._stream = group, stream
        # Glue writes the run's log as the job's role: a role that may not loses the log, not the run.
        self._allowed = may_write_log(account_id, region, role_arn, "glue", group, stream)
        if self._allowed:
            self._backend.ensure_log_group(group)
            self._backend.create_log_stream(group, stream)
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        if not self._allowed:
            return
        event = {"timestamp": int(time.time() * 1000), "message": line.rstrip("\n")}
        with self._lock:
            self._backend.put_log_events(self._group, self._stream, [event])


def driver_stream(run_id: str) -> str:
    """The run's driver log stream in ``/aws-glue/jobs/output`` and ``/error`` (Glue 5.0)."""
    return f"{run_id}-driver"


class _StderrRouter:
    """Splits the driver's stderr as Glue 5.0 does: Spark's log lines to ``error``, the script's to ``output``."""

    def __init__(self, output: _LogSink, error: _LogSink) -> None:
        self._output, self._error = output, error
        self._last = output

    def write(self, line: str) -> None:
        if _SPARK_LINE.match(line):
            self._last = self._error
        elif not _CONTINUATION.match(line):
            self._last = self._output
        self._last.write(line)


def _pump(stream: Any, sink: _LogSink | _StderrRouter, keep: list[str]) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace")
        sink.write(line)
        keep.append(line.rstrip("\n"))
        del keep[:-200]


def error_message(stderr_tail: list[str], returncode: int) -> str:
    """The last exception line of the driver's output, as Glue reports it."""
    for line in reversed(stderr_tail):
        match = _EXCEPTION_LINE.match(line.strip())
        if match:
            return line.strip()
    return f"job script exited with code {returncode}"


def run_arguments(job: Any, run: Any) -> dict[str, str]:
    """The run's arguments as Glue resolves them: the job's DefaultArguments, replaced by the run's own,
    then the job's NonOverridableArguments."""
    return {**(job.default_arguments or {}), **(run.arguments or {}), **(job.non_overridable_arguments or {})}


def _script_arguments(job: Any, arguments: dict[str, str], run_id: str) -> list[str]:
    args = ["--JOB_ID", f"j_{job.name}", "--JOB_RUN_ID", run_id, "--JOB_NAME", job.name]
    for key, value in arguments.items():
        args += [key, str(value)]
    return args


def extra_py_files(arguments: dict[str, str]) -> list[str]:
    """``--extra-py-files``: comma-separated S3 paths of .zip or .py files Glue adds to the Python path."""
    return [path.strip() for path in arguments.get(EXTRA_PY_FILES, "").split(",") if path.strip()]


def role_arn(job: Any) -> str:
    """The job's Role, which CreateJob takes as a name or an ARN."""
    return job.role if str(job.role).startswith("arn:") else f"arn:aws:iam::{job.backend.account_id}:role/{job.role}"


def role_credentials(job: Any) -> Credentials:
    """The job role's session, as Glue assumes it for the run (the role's trust policy must allow Glue)."""
    region, account = job.backend.region_name, job.backend.account_id
    job_arn = f"arn:aws:glue:{region}:{account}:job/{job.name}"
    return SERVICE_SESSIONS.credentials(account, region, role_arn(job), "glue.amazonaws.com", job_arn)


def _fetch_object(location: str, region: str, credentials: Credentials, what: str = "ScriptLocation") -> bytes:
    """An object the job names (its script, an extra Python file), read with the job's role, as Glue reads it."""
    match = re.match(r"^s3://([^/]+)/(.+)$", location or "")
    if not match:
        raise ValueError(f"{what} {location!r} is not an s3:// URL")
    s3 = boto3.client(
        "s3",
        endpoint_url=_state["endpoint_url"],
        region_name=region,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    )
    return s3.get_object(Bucket=match.group(1), Key=match.group(2))["Body"].read()


def _fetch_py_files(locations: list[str], region: str, credentials: Credentials, folder: Path) -> list[str]:
    """Each extra Python file, read with the job's role into ``folder``: the paths to put on the Python path
    (a zip itself; a .py file's own directory, so it imports by its name)."""
    paths = []
    for index, location in enumerate(locations):
        body = _fetch_object(location, region, credentials, EXTRA_PY_FILES)
        path = Path(folder, str(index), location.rsplit("/", 1)[-1])
        path.parent.mkdir(parents=True)
        path.write_bytes(body)
        paths.append(str(path.parent if path.suffix == ".py" else path))
    return paths


def glue_python(folder: Path) -> str:
    """The interpreter Spark starts its Python workers with: this one, with ``-S`` as the driver has it."""
    path = Path(folder, "python")
    path.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -S "$@"\n')
    path.chmod(0o755)
    return str(path)


def _environment(
    region: str, credentials: Credentials, python_path: list[str], python: str, conf_dir: str
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            "AWS_SESSION_TOKEN": credentials.session_token,
            # The job's files first, then the interpreter's libraries; never the caller's own PYTHONPATH.
            "PYTHONPATH": os.pathsep.join([*python_path, *site.getsitepackages()]),
            "PYSPARK_PYTHON": python,
            "PYSPARK_DRIVER_PYTHON": python,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_CONF_DIR": conf_dir,
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name in ("AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        env.pop(name, None)
    if _state["endpoint_url"]:
        env["AWS_ENDPOINT_URL"] = _state["endpoint_url"]
    return env


def execute(job: Any, run: Any) -> None:
    """Run the job script to completion and record the outcome on ``run`` and in ``metrics.GLUE_RUNS``."""
    usage = metrics.GLUE_RUNS.begin(job.name, run.job_run_id)
    try:
        _execute(job, run, usage)
    finally:
        metrics.GLUE_RUNS.end(usage, run.status)


def _wait_sampling(proc: subprocess.Popen, timeout_s: float, usage: metrics.GlueRun) -> int | None:
    """``proc``'s exit code, sampling its process tree's RSS meanwhile; None past ``timeout_s``."""
    import psutil

    try:
        root = psutil.Process(proc.pid)
    except psutil.Error:  # already ended and reaped
        root = None
    deadline = time.monotonic() + timeout_s
    while True:
        rss = metrics.tree_rss(root) if root is not None else None
        if rss is not None:
            metrics.GLUE_RUNS.observe(usage, *rss)
        remaining = deadline - time.monotonic()
        try:
            return proc.wait(timeout=max(0.0, min(metrics.SAMPLE_INTERVAL_S, remaining)))
        except subprocess.TimeoutExpired:
            if remaining <= metrics.SAMPLE_INTERVAL_S:
                return None


def _terminate_tree(proc: subprocess.Popen) -> None:
    """SIGTERM the driver and every process under it (Spark's JVM, its Python workers): a stopped run's
    executors write nothing more, as on Glue, where stopping a run tears down its workers too."""
    import psutil

    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(tree, timeout=10)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=10)


def _terminating(proc: subprocess.Popen) -> threading.Thread:
    """Terminate ``proc``'s tree in the background: BatchStopJobRun answers at once, as Glue's does."""
    thread = threading.Thread(target=_terminate_tree, args=(proc,), daemon=True)
    thread.start()
    return thread


def _execute(job: Any, run: Any, usage: metrics.GlueRun) -> None:
    region, account = job.backend.region_name, job.backend.account_id
    out_sink = _LogSink(account, region, f"{LOG_GROUP}/output", driver_stream(run.job_run_id), role_arn(job))
    err_sink = _LogSink(account, region, f"{LOG_GROUP}/error", driver_stream(run.job_run_id), role_arn(job))
    arguments = run_arguments(job, run)
    with tempfile.TemporaryDirectory(prefix="glue-run-") as tmp:
        step = "the job script"
        try:
            credentials = role_credentials(job)
            script = _fetch_object((job.command or {}).get("ScriptLocation", ""), region, credentials)
            step = f"{EXTRA_PY_FILES} {arguments.get(EXTRA_PY_FILES, '')}"
            python_path = _fetch_py_files(extra_py_files(arguments), region, credentials, Path(tmp, "py-files"))
        except Exception as exc:  # the run fails, as Glue's does, with the reason
            err_sink.write(f"cannot load {step}: {exc}")
            run.finish("FAILED", f"cannot load {step}: {exc}")
            return
        timeout_s = 60 * int(run.timeout or job.timeout or 2880)
        if run.stop_requested:  # stopped before its driver started, as Glue stops a STARTING run
            run.finish("STOPPED", None)
            return
        path = Path(tmp, Path((job.command or {}).get("ScriptLocation", "script.py")).name)
        path.write_bytes(script)
        python = glue_python(Path(tmp))
        proc = subprocess.Popen(
            [sys.executable, "-S", str(path), *_script_arguments(job, arguments, run.job_run_id)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_environment(region, credentials, python_path, python, spark_conf_dir(Path(tmp, "spark-conf"))),
            cwd=tmp,
            # Out of the emulator's process group: a signal to the group would kill the driver first and
            # orphan Spark's JVM and workers (pyspark's daemon makes its own group); the emulator's
            # shutdown ends the whole tree instead (server._end_children).
            start_new_session=True,
        )
        with run.stop_lock:
            run.process = proc
            if run.stop_requested:  # asked to stop while the driver was being started
                run.terminator = _terminating(proc)
        out_tail: list[str] = []
        err_tail: list[str] = []
        pumps = [
            threading.Thread(target=_pump, args=(proc.stdout, out_sink, out_tail), daemon=True),
            threading.Thread(
                target=_pump, args=(proc.stderr, _StderrRouter(out_sink, err_sink), err_tail), daemon=True
            ),
        ]
        for pump in pumps:
            pump.start()
        returncode = _wait_sampling(proc, timeout_s, usage)
        if returncode is None:
            proc.kill()
            proc.wait()
            for pump in pumps:
                pump.join()
            run.finish("TIMEOUT", f"Job run timed out after {timeout_s // 60} minutes")
            return
        for pump in pumps:
            pump.join()
    if run.stop_requested:
        if run.terminator is not None:
            run.terminator.join()  # STOPPED once no process of the run is left
        run.finish("STOPPED", None)
    elif returncode == 0:
        run.finish("SUCCEEDED", None)
    else:
        run.finish("FAILED", error_message(err_tail + out_tail, returncode))


class LocalJobRun:
    """Mixed into moto's FakeJobRun: the state is the real process's, not a timer's."""

    def start_local(self, glue_version: str | None) -> None:
        self._local_state = "RUNNING"
        self._started_at = time.time()
        self._error: str | None = None
        self._completed: datetime | None = None
        self._glue_version = glue_version
        self.process: subprocess.Popen | None = None
        self.stop_requested = False
        self.stop_lock = threading.Lock()
        self.terminator: threading.Thread | None = None

    @property
    def status(self) -> str:
        return self._local_state

    @status.setter
    def status(self, value: str) -> None:
        self._local_state = value

    def advance(self) -> None:
        """moto advances fake runs on every read; a real run advances by itself."""

    def finish(self, state: str, error: str | None) -> None:
        self._error, self._completed = error, _now()
        self._local_state = state

    def stop(self) -> None:
        """BatchStopJobRun: a run not yet ended is STOPPING until its driver has exited (or never starts)."""
        with self.stop_lock:
            if self._local_state != "RUNNING":
                return
            self.stop_requested = True
            self._local_state = "STOPPING"
            if self.process is not None:
                self.terminator = _terminating(self.process)

    def as_dict(self) -> dict[str, Any]:
        result = super().as_dict()  # type: ignore[misc]
        result.update({"JobRunState": self._local_state, "LogGroupName": LOG_GROUP, "Attempt": 0})
        if self._glue_version:
            result["GlueVersion"] = self._glue_version
        if self._completed:
            result["CompletedOn"] = self._completed
        else:
            result.pop("CompletedOn", None)
        result["ExecutionTime"] = int((self._completed or _now()).timestamp() - self._started_at)
        if self._error:
            result["ErrorMessage"] = self._error
        return result
