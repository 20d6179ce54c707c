"""Single functions of the local AWS: error extraction, bucket-policy conditions, request counts, peak memory."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import pytest
from botocore.config import Config

from local_aws import glue_executor, lambda_executor, metrics, server
from local_aws.bucket_policy import bucket_permission
from local_aws.glue_executor import error_message
from local_aws.operations import service_and_operation


def test_glue_error_message_is_the_last_exception_line() -> None:
    stderr = [
        "Traceback (most recent call last):",
        '  File "job.py", line 3, in <module>',
        "botocore.errorfactory.ResourceNotFoundException: An error occurred (ResourceNotFoundException) "
        "when calling the DescribeTable operation: Requested resource not found",
        "26/11/25 15:00:00 INFO ShutdownHookManager: Shutdown hook called",
    ]
    assert error_message(stderr, 1).startswith("botocore.errorfactory.ResourceNotFoundException: An error occurred")
    assert error_message(["nothing useful"], 3) == "job script exited with code 3"


class _Bucket:
    def __init__(self, policy: dict) -> None:
        self.policy = json.dumps(policy).encode()


def _deny_insecure(extra: dict | None = None) -> dict:
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    statement.update(extra or {})
    return {"Version": "2012-10-17", "Statement": [statement]}


def test_tls_only_policy_does_not_deny_emulator_requests() -> None:
    from moto.iam.access_control import PermissionResult

    assert bucket_permission(_Bucket(_deny_insecure()), "s3:GetObject", "arn:aws:s3:::b/k") == PermissionResult.NEUTRAL


def test_unconditional_deny_still_denies() -> None:
    from moto.iam.access_control import PermissionResult

    policy = _deny_insecure()
    del policy["Statement"][0]["Condition"]
    assert bucket_permission(_Bucket(policy), "s3:GetObject", "arn:aws:s3:::b/k") == PermissionResult.DENIED


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(server.LocalAwsError, match=f"port {port} on 127.0.0.1 is already in use"):
            server.start(port=port)


# Request counting: the operation of each request, as botocore names it.


class _Sent(Exception):
    """Raised instead of sending: carries the WSGI environ the emulator would have received."""

    def __init__(self, environ: dict) -> None:
        self.environ = environ


def _environ(request: Any) -> dict:
    url = urlsplit(request.url)
    body = request.body or b""
    body = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else body.read()
    environ = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": unquote(url.path),  # as werkzeug decodes it
        "QUERY_STRING": url.query,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "",
        "HTTP_HOST": url.netloc,
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else value
        if name.lower() == "content-type":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def _client(service: str, **config: Any) -> Any:
    client = boto3.client(
        service,
        endpoint_url=config.pop("endpoint_url", "http://127.0.0.1:4566"),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 0}, **config),
    )

    def capture(request: Any, **_: Any) -> None:
        raise _Sent(_environ(request))

    client.meta.events.register_first("before-send", capture)
    return client


def _sent(call: Any) -> dict:
    with pytest.raises(_Sent) as sent:
        call()
    return sent.value.environ


B, K = "data-bucket", "raw/dt=2026-01-01/part 1.jsonl"
CALLS = [
    ("s3", "CreateBucket", {"Bucket": B}),
    ("s3", "HeadBucket", {"Bucket": B}),
    ("s3", "ListBuckets", {}),
    ("s3", "ListObjects", {"Bucket": B}),
    ("s3", "ListObjectsV2", {"Bucket": B, "Prefix": "raw/"}),
    ("s3", "PutObject", {"Bucket": B, "Key": K, "Body": b"{}"}),
    ("s3", "GetObject", {"Bucket": B, "Key": K}),
    ("s3", "HeadObject", {"Bucket": B, "Key": K}),
    ("s3", "DeleteObject", {"Bucket": B, "Key": K}),
    ("s3", "DeleteObjects", {"Bucket": B, "Delete": {"Objects": [{"Key": K}]}}),
    ("s3", "CopyObject", {"Bucket": B, "Key": "copy", "CopySource": {"Bucket": B, "Key": K}}),
    ("s3", "CreateMultipartUpload", {"Bucket": B, "Key": K}),
    ("s3", "UploadPart", {"Bucket": B, "Key": K, "PartNumber": 1, "UploadId": "u", "Body": b"x"}),
    ("s3", "UploadPartCopy", {"Bucket": B, "Key": K, "PartNumber": 1, "UploadId": "u", "CopySource": f"{B}/a"}),
    ("s3", "CompleteMultipartUpload", {"Bucket": B, "Key": K, "UploadId": "u"}),
    ("s3", "PutBucketPolicy", {"Bucket": B, "Policy": "{}"}),
    ("s3", "GetBucketPolicy", {"Bucket": B}),
    ("s3", "PutObjectTagging", {"Bucket": B, "Key": K, "Tagging": {"TagSet": []}}),
    ("s3", "DeleteBucket", {"Bucket": B}),
    ("lambda", "Invoke", {"FunctionName": "generator", "Payload": b"{}"}),
    ("lambda", "GetFunction", {"FunctionName": "generator"}),
    ("lambda", "ListFunctions", {}),
    ("lambda", "DeleteFunction", {"FunctionName": "generator"}),
    ("lambda", "PublishLayerVersion", {"LayerName": "faker", "Content": {"ZipFile": b"z"}}),
    ("dynamodb", "Query", {"TableName": "t", "KeyConditionExpression": "k = :k"}),
    ("dynamodb", "BatchWriteItem", {"RequestItems": {"t": [{"DeleteRequest": {"Key": {"k": {"S": "1"}}}}]}}),
    ("glue", "StartJobRun", {"JobName": "ingest"}),
    ("glue", "GetJobRun", {"JobName": "ingest", "RunId": "jr_1"}),
    ("logs", "GetLogEvents", {"logGroupName": "/aws-glue/jobs/output", "logStreamName": "jr_1"}),
    ("sts", "GetCallerIdentity", {}),
    ("sns", "Publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "m"}),
    ("iam", "GetRole", {"RoleName": "glue-role"}),
]


@pytest.mark.parametrize(("service", "operation", "params"), CALLS, ids=[f"{s}.{o}" for s, o, _ in CALLS])
def test_operation_of_each_request_is_botocores(service: str, operation: str, params: dict) -> None:
    client = _client(service)
    method = {api: name for name, api in client.meta.method_to_api_mapping.items()}[operation]
    environ = _sent(lambda: getattr(client, method)(**params))
    body = environ["wsgi.input"].getvalue()
    assert service_and_operation(environ) == (service, operation)
    assert environ["wsgi.input"].read() == body  # a form body read for its Action is put back for moto


def test_presigned_and_virtual_hosted_s3_requests() -> None:
    for signature in ("s3v4", "s3"):  # botocore presigns with SigV2 by default
        client = _client("s3", signature_version=signature)
        url = urlsplit(client.generate_presigned_url("put_object", Params={"Bucket": B, "Key": K}))
        environ = {"REQUEST_METHOD": "PUT", "PATH_INFO": unquote(url.path), "QUERY_STRING": url.query}
        assert service_and_operation(environ) == ("s3", "PutObject")

    virtual = _client("s3", endpoint_url="http://localhost:4566", s3={"addressing_style": "virtual"})
    environ = _sent(lambda: virtual.list_objects_v2(Bucket=B))
    assert environ["HTTP_HOST"].startswith(f"{B}.localhost") and environ["PATH_INFO"] == "/"
    assert service_and_operation(environ) == ("s3", "ListObjectsV2")
    assert service_and_operation(_sent(lambda: virtual.head_object(Bucket=B, Key=K))) == ("s3", "HeadObject")


def _call(app: Any, method: str, path: str, environ: dict | None = None) -> tuple[str, Any]:
    answer: dict[str, Any] = {}
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", **(environ or {})}
    body = b"".join(app(environ, lambda status, headers: answer.update(status=status)))
    return answer["status"], json.loads(body) if body else None


def test_local_endpoints_count_requests_and_answer_before_moto() -> None:
    reached_moto = []

    def moto(environ: dict, start_response: Any) -> list[bytes]:
        reached_moto.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b""]

    app = metrics.LocalEndpoints(moto)
    app({"REQUEST_METHOD": "DELETE", "PATH_INFO": "/_local/requests"}, lambda *_: None)  # from zero
    get_object = _sent(lambda: _client("s3").get_object(Bucket=B, Key=K))
    query = _sent(lambda: _client("dynamodb").query(TableName="t", KeyConditionExpression="k = :k"))
    for environ in (get_object, get_object, query):
        _call(app, environ["REQUEST_METHOD"], environ["PATH_INFO"], environ)
    _call(app, "GET", "/moto-api/data.json")  # moto's control API: not an AWS request

    assert _call(app, "GET", "/_local/requests") == (
        "200 OK",
        {"dynamodb": {"Query": 1}, "s3": {"GetObject": 2}},
    )
    assert _call(app, "DELETE", "/_local/requests/")[1] == {"dynamodb": {"Query": 1}, "s3": {"GetObject": 2}}
    assert _call(app, "GET", "/_local/requests") == ("200 OK", {})
    assert _call(app, "PUT", "/_local/requests")[0] == "405 Method Not Allowed"
    assert _call(app, "GET", "/_local/nothing")[0] == "404 Not Found"
    assert reached_moto == [f"/{B}/{K}", f"/{B}/{K}", "/", "/moto-api/data.json"]


def test_request_counts_are_thread_safe() -> None:
    counts = metrics.RequestCounts()
    threads = [
        threading.Thread(target=lambda: [counts.add("dynamodb", "Query") for _ in range(5000)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts.snapshot(reset=True) == {"dynamodb": {"Query": 20000}}
    assert counts.snapshot() == {}


# Peak memory of process trees (Glue runs) and Lambda runtimes.

ALLOCATE = "import sys, time\nblock = bytearray({mb} * 2**20)\nprint('ready', flush=True)\ntime.sleep({sleep})\n"


def test_tree_rss_sums_the_descendants() -> None:
    import psutil

    child = ALLOCATE.format(mb=80, sleep=30)
    parent = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {child!r}])\n"
    with subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True) as proc:
        root = psutil.Process(proc.pid)
        try:
            assert proc.stdout.readline() == "ready\n"  # the child, a grandchild of this test
            total, largest = metrics.tree_rss(root)
            assert largest >= 80 * 2**20
            assert total > largest
        finally:
            for process in root.children(recursive=True):
                process.kill()
            proc.kill()
    assert metrics.tree_rss(root) is None  # ended


def test_glue_wait_samples_the_peak_and_times_out() -> None:
    runs = metrics.GlueRuns()
    usage = runs.begin("job", "jr_1")
    proc = subprocess.Popen([sys.executable, "-c", ALLOCATE.format(mb=60, sleep=1.2)], stdout=subprocess.DEVNULL)
    assert glue_executor._wait_sampling(proc, 30, usage) == 0
    runs.end(usage, "SUCCEEDED")
    [run] = runs.snapshot()
    assert run["job_name"] == "job" and run["run_id"] == "jr_1" and run["state"] == "SUCCEEDED"
    assert run["peak_process_rss_bytes"] >= 60 * 2**20
    assert run["peak_tree_rss_bytes"] >= run["peak_process_rss_bytes"]
    assert 1.2 <= run["wall_s"] < 10
    assert run["started"] < run["ended"]

    proc = subprocess.Popen([sys.executable, "-c", ALLOCATE.format(mb=1, sleep=30)], stdout=subprocess.DEVNULL)
    started = time.monotonic()
    assert glue_executor._wait_sampling(proc, 1, runs.begin("job", "jr_2")) is None
    assert time.monotonic() - started < 3
    proc.kill()
    proc.wait()


def test_lambda_runtime_reports_its_peak_rss(tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text("def handler(event, context):\n    block = bytearray(70 * 2**20)\n    return 1\n")
    result = tmp_path / "result.json"
    runtime = str(lambda_executor.RUNTIME_SCRIPT)
    subprocess.run(
        [sys.executable, "-I", "-S", runtime, "big.handler", str(tmp_path), str(result), "5"],
        input=b"{}",
        check=True,
        capture_output=True,
    )
    reported = json.loads(result.read_text())
    assert reported["payload"] == 1 and not reported["errored"]
    assert 70 * 2**20 <= reported["max_rss_bytes"] < 1024 * 2**20


def test_lambda_invocations_summary() -> None:
    invocations = metrics.LambdaInvocations()
    invocations.add("generator", 1.25, 50_000_000, False)
    invocations.add("generator", 0.5, 60_000_000, True)
    invocations.add("writer", 0.25, None, False)
    assert invocations.snapshot(reset=True) == {
        "generator": {
            "count": 2,
            "errors": 1,
            "total_wall_s": 1.75,
            "max_wall_s": 1.25,
            "max_peak_rss_bytes": 60_000_000,
        },
        "writer": {"count": 1, "errors": 0, "total_wall_s": 0.25, "max_wall_s": 0.25, "max_peak_rss_bytes": None},
    }
    assert invocations.snapshot() == {}
