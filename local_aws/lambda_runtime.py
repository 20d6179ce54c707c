"""Bootstrap of one local Lambda invocation, run as ``python -I -S lambda_runtime.py``.

``-I -S`` leaves only the standard library on ``sys.path``; this script adds
exactly what a Lambda sees: the function package, its layers and the runtime's
boto3. A package that forgets a dependency fails here as it would on AWS.
Standard library only.

argv: handler task_root result_file timeout_s path...  (event on stdin)
"""

import importlib
import json
import logging
import os
import sys
import time
import traceback


class Context:
    def __init__(self, timeout_s: float) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.aws_request_id = os.environ.get("AWS_LAMBDA_REQUEST_ID", "")
        self.invoked_function_arn = os.environ.get("AWS_LAMBDA_FUNCTION_ARN", "")
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(error_type: str, message: str, exc: BaseException) -> dict:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _max_rss_bytes() -> int:
    """Peak RSS of this runtime, or of a process the handler ran if larger: AWS's "Max Memory Used"."""
    import resource

    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def main() -> int:
    handler, task_root, result_file, timeout_s, *paths = sys.argv[1:]
    sys.path[:0] = [task_root, *paths]
    os.chdir(task_root)
    # The managed runtime gives the root logger a handler; do the same.
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s]\t%(asctime)s\t%(message)s", stream=sys.stdout)
    event = json.loads(sys.stdin.read() or "null")
    module_name, _, function_name = handler.rpartition(".")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # reported like the managed runtime does
        result, errored = (
            _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", exc),
            True,
        )
        traceback.print_exc()
    else:
        try:
            result, errored = function(event, Context(float(timeout_s))), False
            json.dumps(result)
        except Exception as exc:
            result, errored = _error(type(exc).__name__, str(exc), exc), True
            print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
            traceback.print_exc()
    with open(result_file, "w") as out:
        json.dump({"errored": errored, "payload": result, "max_rss_bytes": _max_rss_bytes()}, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
