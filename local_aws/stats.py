"""Client of the local AWS's ``/_local/...`` endpoints (see ``metrics``), standard library only.

    counts = request_counts(endpoint, reset=True)   # {"dynamodb": {"Query": 1000, ...}, "s3": {...}}
    runs = glue_runs(endpoint)                      # [{"job_name", "run_id", "state", "wall_s", ...}]
    lambdas = lambda_invocations(endpoint)          # {"fn": {"count", "errors", "total_wall_s", ...}}
    audit = iam_audit(endpoint)                     # {"enforced": True, "calls": [{"principal", "action", ...}]}

``reset=True`` returns the figures and sets them back to zero in the same request.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from local_aws.iam_gate import AUDIT_PATH
from local_aws.metrics import GLUE_RUNS_PATH, LAMBDA_INVOCATIONS_PATH, REQUESTS_PATH

TIMEOUT_S = 10


def _fetch(endpoint_url: str, path: str, reset: bool) -> Any:
    request = urllib.request.Request(endpoint_url.rstrip("/") + path, method="DELETE" if reset else "GET")
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return json.load(response)


def request_counts(endpoint_url: str, reset: bool = False) -> dict[str, dict[str, int]]:
    """AWS API requests the emulator served, ``{service: {operation: count}}``."""
    return _fetch(endpoint_url, REQUESTS_PATH, reset)


def glue_runs(endpoint_url: str, reset: bool = False) -> list[dict[str, Any]]:
    """Every Glue job run the emulator executed, oldest first: ``job_name``, ``run_id``, ``state``,
    ``started``, ``ended`` (ISO 8601, ``ended`` None while running), ``wall_s``, ``peak_tree_rss_bytes``
    (the driver's whole process tree), ``peak_process_rss_bytes`` (its largest process)."""
    return _fetch(endpoint_url, GLUE_RUNS_PATH, reset)


def lambda_invocations(endpoint_url: str, reset: bool = False) -> dict[str, dict[str, Any]]:
    """Per function: ``count``, ``errors``, ``total_wall_s``, ``max_wall_s``, ``max_peak_rss_bytes``."""
    return _fetch(endpoint_url, LAMBDA_INVOCATIONS_PATH, reset)


def iam_audit(endpoint_url: str, reset: bool = False) -> dict[str, Any]:
    """IAM's decisions: ``enforced`` and ``calls``, each with ``principal``, ``role`` (a session's role),
    ``operation``, ``action``, ``resource``, ``allowed``, the ``policy`` and ``statement`` that decided it,
    ``reason`` and ``count``."""
    return _fetch(endpoint_url, AUDIT_PATH, reset)


def refusals(audit: dict[str, Any]) -> list[str]:
    """One line per refused call of an audit: who, what, on which resource, why."""
    return [
        f"{c['principal']}: {c['action']} on {c['resource']} {c['reason']} ({c['count']}x)"
        for c in audit["calls"]
        if not c["allowed"]
    ]
