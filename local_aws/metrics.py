"""What the local AWS served and what its executors used, for benchmarks (read with ``stats``).

The emulator runs in one process, so the counts live here, in memory:

* every AWS API request, by service and operation (``operations``), counted by the
  WSGI middleware in front of moto: the Glue and Lambda executors' children call the
  emulator over HTTP, so their requests are counted like any client's;
* each Glue job run: wall time and the peak RSS of the driver's process tree (the
  Python driver, Spark's JVM, PySpark's daemon and workers), sampled while it runs;
* Lambda invocations per function: count, wall time, peak RSS (reported by the runtime).

``GET /_local/<name>`` returns them as JSON; ``DELETE`` also resets them to zero and
returns what they were. ``/_local/...`` is answered before moto routes anything, so it
never reaches S3's path-style routing (no bucket can be named ``_local`` anyway).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from local_aws.operations import service_and_operation

if TYPE_CHECKING:
    import psutil

LOCAL_PREFIX = "/_local"
REQUESTS_PATH = f"{LOCAL_PREFIX}/requests"
GLUE_RUNS_PATH = f"{LOCAL_PREFIX}/glue-runs"
LAMBDA_INVOCATIONS_PATH = f"{LOCAL_PREFIX}/lambda-invocations"
SAMPLE_INTERVAL_S = 0.5


class RequestCounts:
    """``{service: {operation: requests}}``, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}

    def add(self, service: str, operation: str) -> None:
        with self._lock:
            operations = self._counts.setdefault(service, {})
            operations[operation] = operations.get(operation, 0) + 1

    def snapshot(self, reset: bool = False) -> dict[str, dict[str, int]]:
        with self._lock:
            counts = {service: dict(sorted(ops.items())) for service, ops in sorted(self._counts.items())}
            if reset:
                self._counts.clear()
        return counts


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds")


@dataclass
class GlueRun:
    job_name: str
    run_id: str
    state: str = "RUNNING"
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended: datetime | None = None
    peak_tree_rss_bytes: int | None = None
    peak_process_rss_bytes: int | None = None
    _start: float = field(default_factory=time.monotonic)
    _end: float | None = None

    def as_json(self) -> dict[str, Any]:
        """Wall time so far while it runs."""
        return {
            "job_name": self.job_name,
            "run_id": self.run_id,
            "state": self.state,
            "started": _iso(self.started),
            "ended": _iso(self.ended),
            "wall_s": round((self._end or time.monotonic()) - self._start, 3),
            "peak_tree_rss_bytes": self.peak_tree_rss_bytes,
            "peak_process_rss_bytes": self.peak_process_rss_bytes,
        }


class GlueRuns:
    """Every Glue job run the executor ran, oldest first, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: list[GlueRun] = []

    def begin(self, job_name: str, run_id: str) -> GlueRun:
        run = GlueRun(job_name, run_id)
        with self._lock:
            self._runs.append(run)
        return run

    def observe(self, run: GlueRun, tree_rss: int, largest_rss: int) -> None:
        with self._lock:
            run.peak_tree_rss_bytes = max(run.peak_tree_rss_bytes or 0, tree_rss)
            run.peak_process_rss_bytes = max(run.peak_process_rss_bytes or 0, largest_rss)

    def end(self, run: GlueRun, state: str) -> None:
        with self._lock:
            run.state, run.ended, run._end = state, datetime.now(UTC), time.monotonic()

    def snapshot(self, reset: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            runs = [run.as_json() for run in self._runs]
            if reset:
                self._runs.clear()
        return runs


class LambdaInvocations:
    """Per function: invocations, errors, wall time (total and longest), peak RSS; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._functions: dict[str, dict[str, Any]] = {}

    def add(self, function_name: str, wall_s: float, peak_rss_bytes: int | None, errored: bool) -> None:
        with self._lock:
            summary = self._functions.setdefault(
                function_name,
                {"count": 0, "errors": 0, "total_wall_s": 0.0, "max_wall_s": 0.0, "max_peak_rss_bytes": None},
            )
            summary["count"] += 1
            summary["errors"] += int(errored)
            summary["total_wall_s"] = round(summary["total_wall_s"] + wall_s, 3)
            summary["max_wall_s"] = round(max(summary["max_wall_s"], wall_s), 3)
            if peak_rss_bytes is not None:
                summary["max_peak_rss_bytes"] = max(summary["max_peak_rss_bytes"] or 0, peak_rss_bytes)

    def snapshot(self, reset: bool = False) -> dict[str, dict[str, Any]]:
        with self._lock:
            functions = {name: dict(summary) for name, summary in sorted(self._functions.items())}
            if reset:
                self._functions.clear()
        return functions


REQUESTS = RequestCounts()
GLUE_RUNS = GlueRuns()
LAMBDA_INVOCATIONS = LambdaInvocations()


def tree_rss(root: psutil.Process) -> tuple[int, int] | None:
    """(summed RSS, largest single RSS) of ``root`` and its descendants now; None once ``root`` is gone.

    One walk of the process table (``children``) and one ``statm`` read per process. The sum
    counts pages that forked processes share once per process: an upper bound, as ``ps`` shows.
    """
    import psutil

    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    sizes = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            sizes.append(process.memory_info().rss)
    return (sum(sizes), max(sizes)) if sizes else None


class LocalEndpoints:
    """WSGI middleware in front of moto's dispatcher: counts each AWS request, answers ``/_local/...``."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.endpoints: dict[str, Callable[[bool], Any]] = {
            REQUESTS_PATH: REQUESTS.snapshot,
            GLUE_RUNS_PATH: GLUE_RUNS.snapshot,
            LAMBDA_INVOCATIONS_PATH: LAMBDA_INVOCATIONS.snapshot,
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == LOCAL_PREFIX or path.startswith(LOCAL_PREFIX + "/"):
            return self._local(environ, start_response, path.rstrip("/"))
        if not path.startswith("/moto-api"):  # moto's own control API is not AWS
            try:
                REQUESTS.add(*service_and_operation(environ))
            except Exception as err:  # never fail a request for its count
                REQUESTS.add("unclassified", type(err).__name__)
        return self.app(environ, start_response)

    def _local(self, environ: dict[str, Any], start_response: Callable[..., Any], path: str) -> list[bytes]:
        snapshot = self.endpoints.get(path)
        method = environ.get("REQUEST_METHOD", "GET")
        headers = [("Content-Type", "application/json")]
        if snapshot is None:
            status, body = "404 Not Found", {"message": f"no {path}", "endpoints": sorted(self.endpoints)}
        elif method in ("GET", "DELETE"):
            status, body = "200 OK", snapshot(method == "DELETE")
        else:
            status, body = "405 Method Not Allowed", {"message": f"{method} {path}: use GET, or DELETE to reset"}
            headers.append(("Allow", "GET, DELETE"))
        payload = json.dumps(body).encode()
        start_response(status, [*headers, ("Content-Length", str(len(payload)))])
        return [payload]
