"""Runs a deployed Lambda function locally: its zip and layers, its environment, its timeout.

Each invocation's wall time (unpacking included) and the runtime's peak RSS go to
``metrics.LAMBDA_INVOCATIONS`` (``GET /_local/lambda-invocations``), the peak also to
the log's REPORT line as AWS writes it.
"""

from __future__ import annotations

import atexit
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from local_aws import metrics
from local_aws.iam_gate import may_write_log
from local_aws.iam_principals import SERVICE_SESSIONS, Credentials, CredentialsError

RUNTIME_SCRIPT = Path(__file__).with_name("lambda_runtime.py")
# What the python3.12 managed runtime provides besides the standard library.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
LOG_RESULT_BYTES = 4096  # AWS returns the last 4 KB of the log

_state: dict[str, Any] = {"endpoint_url": None, "runtime_dir": None}


def configure(endpoint_url: str) -> None:
    """Point functions back at this emulator (their AWS_ENDPOINT_URL)."""
    _state["endpoint_url"] = endpoint_url


def _runtime_dir() -> str:
    """A folder holding only the runtime's packages, as symlinks into this environment."""
    if _state["runtime_dir"] is None:
        folder = Path(tempfile.mkdtemp(prefix="lambda-runtime-"))
        # One per emulator process: gone when the emulator ends (rmtree does not follow the symlinks).
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        for name in RUNTIME_PACKAGES:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                continue
            origin = Path(spec.origin)
            source = origin.parent if origin.name == "__init__.py" else origin
            (folder / source.name).symlink_to(source)
        _state["runtime_dir"] = str(folder)
    return _state["runtime_dir"]


def _extract(archive: bytes, destination: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        zipped.extractall(destination)


def _layer_archives(function: Any) -> list[bytes]:
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends[function.account_id][function.region]
    return [backend.layers_versions_by_arn(layer["Arn"]).code_bytes for layer in function.layers]


def role_credentials(function: Any) -> Credentials:
    """The execution role's session, as Lambda assumes it (the role's trust policy must allow Lambda)."""
    return SERVICE_SESSIONS.credentials(
        function.account_id, function.region, function.role, "lambda.amazonaws.com", function.function_arn
    )


def _environment(function: Any, request_id: str, credentials: Credentials) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "_HANDLER": function.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_ARN": function.function_arn,
        "AWS_LAMBDA_REQUEST_ID": request_id,
        "AWS_REGION": function.region,
        "AWS_DEFAULT_REGION": function.region,
        # The execution role's session, as the Lambda runtime has it.
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_SESSION_TOKEN": credentials.session_token,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if _state["endpoint_url"]:
        env["AWS_ENDPOINT_URL"] = _state["endpoint_url"]
    env.update({k: str(v) for k, v in (function.environment_vars or {}).items()})
    return env


def run_function(function: Any, event: Any) -> tuple[str, bool, str]:
    """Invoke ``function`` (a moto LambdaFunction) with ``event``: (payload, errored, logs)."""
    request_id = str(uuid.uuid4())
    invoked = time.monotonic()
    timeout = float(function.timeout or 3)
    max_rss_bytes = None
    try:
        credentials = role_credentials(function)
    except CredentialsError as err:  # as AWS reports a role Lambda cannot assume
        payload = {
            "errorMessage": f"The role defined for the function cannot be assumed by Lambda: {err}",
            "errorType": "Runtime.AssumeRoleFailure",
        }
        metrics.LAMBDA_INVOCATIONS.add(function.function_name, time.monotonic() - invoked, None, True)
        return json.dumps(payload), True, f"START RequestId: {request_id}\n{payload['errorMessage']}\n"
    with tempfile.TemporaryDirectory(prefix="lambda-") as tmp:
        task, opt, result_file = Path(tmp, "task"), Path(tmp, "opt"), Path(tmp, "result.json")
        _extract(function.code_bytes, task)
        opt.mkdir()
        for archive in _layer_archives(function):
            _extract(archive, opt)
        python_version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        paths = [str(opt / "python" / "lib" / python_version / "site-packages"), str(opt / "python"), _runtime_dir()]
        started = time.monotonic()
        try:
            proc = subprocess.run(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    str(RUNTIME_SCRIPT),
                    function.handler,
                    str(task),
                    str(result_file),
                    str(timeout),
                    *paths,
                ],
                input=json.dumps(event).encode(),
                capture_output=True,
                timeout=timeout,
                env=_environment(function, request_id, credentials),
                cwd=task,
                # Ended by the emulator's shutdown (server._end_children), as the Glue drivers are.
                start_new_session=True,
            )
            output = (proc.stdout + proc.stderr).decode(errors="replace")
            if result_file.exists():
                result = json.loads(result_file.read_text())
                payload, errored = result["payload"], result["errored"]
                max_rss_bytes = result.get("max_rss_bytes")
            else:
                payload = {
                    "errorMessage": f"Runtime exited with error: exit status {proc.returncode}",
                    "errorType": "Runtime.ExitError",
                }
                errored = True
        except subprocess.TimeoutExpired as expired:
            output = ((expired.stdout or b"") + (expired.stderr or b"")).decode(errors="replace")
            payload = {
                "errorMessage": f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {request_id} "
                f"Task timed out after {timeout:.2f} seconds",
                "errorType": "Sandbox.Timedout",
            }
            errored = True
    duration_ms = (time.monotonic() - started) * 1000
    memory = "" if max_rss_bytes is None else f"\tMax Memory Used: {max_rss_bytes // 2**20} MB"
    logs = (
        f"START RequestId: {request_id} Version: {function.version}\n{output}"
        f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
        f"\tMemory Size: {function.memory_size} MB{memory}\n"
    )
    metrics.LAMBDA_INVOCATIONS.add(function.function_name, time.monotonic() - invoked, max_rss_bytes, errored)
    return json.dumps(payload), errored, logs


def _save_logs(function: Any, logs: str) -> None:
    """moto's ``save_logs``, as the function's role: Lambda writes the log with the execution role's
    permissions, and a role that may not loses the log (the invocation goes on, as on AWS)."""
    from moto.core.utils import unix_time_millis, utcnow

    date = utcnow()
    stream = f"{date.year}/{date.month:02d}/{date.day:02d}/[{function.version}]{uuid.uuid4().hex}"
    group = function.logs_group_name
    if not may_write_log(function.account_id, function.region, function.role, "lambda", group, stream):
        return
    function.logs_backend.ensure_log_group(group)
    function.logs_backend.create_log_stream(group, stream)
    events = [{"timestamp": unix_time_millis(), "message": line} for line in logs.splitlines()]
    function.logs_backend.put_log_events(group, stream, events)


def invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    """Replacement for moto's ``LambdaFunction._invoke_lambda`` (same contract)."""
    payload, errored, logs = run_function(self, event)
    _save_logs(self, logs)
    tail = logs.encode()[-LOG_RESULT_BYTES:].decode(errors="ignore")
    return payload, errored, tail
