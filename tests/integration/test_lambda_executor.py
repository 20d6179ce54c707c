"""Lambda functions invoked through the local AWS run the real zips, isolated as on AWS."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest

from generator.handler import handler as generate_locally
from infra import packaging
from infra.iam import role_arn

pytestmark = pytest.mark.integration

BATCH = "20261125T14"


def _invoke(aws, function: str, event: object) -> tuple[dict, dict]:
    response = aws.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event), LogType="Tail")
    return response, json.loads(response["Payload"].read())


def _create(aws, stage, name: str, files: dict[str, bytes], handler: str, timeout: int = 10, layers=()) -> None:
    client = aws.client("lambda")
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn(aws, stage.writer_role),
        Handler=handler,
        Code={"ZipFile": packaging.deterministic_zip(files)},
        Timeout=timeout,
        Layers=list(layers),
    )


def test_generator_runs_the_deployed_zip_with_its_layer(aws, stage) -> None:
    event = {"batch_id": BATCH, "shard": 4, "count": 25}
    response, payload = _invoke(aws, stage.generator_function, event)
    assert "FunctionError" not in response
    assert payload == json.loads(json.dumps(generate_locally(event, None)))
    assert "generated 25 records" in base64.b64decode(response["LogResult"]).decode()


def test_writer_uses_its_environment_and_the_emulator(aws, stage) -> None:
    _, generated = _invoke(aws, stage.generator_function, {"batch_id": BATCH, "shard": 9, "count": 3})
    response, written = _invoke(aws, stage.writer_function, generated)
    assert "FunctionError" not in response
    assert written["key"] == "raw/employees/dt=2026-11-25/hour=14/part-00009.jsonl"
    body = aws.client("s3").get_object(Bucket=stage.data_bucket, Key=written["key"])["Body"].read()
    assert [json.loads(line) for line in body.splitlines()] == generated["records"]


def test_handler_exception_is_a_function_error_naming_the_field(aws, stage) -> None:
    response, payload = _invoke(aws, stage.generator_function, {"batch_id": BATCH, "shard": 0, "count": -1})
    assert response["StatusCode"] == 200 and response["FunctionError"]
    assert payload["errorType"] == "InvalidEventError"
    assert "'count'" in payload["errorMessage"]


def test_package_without_faker_fails_as_on_aws(aws, stage) -> None:
    """The generator zip without its layer cannot import Faker, though Faker is installed here."""
    files = _zip_files(packaging.lambda_zip("generator").body)
    _create(aws, stage, "it-generator-without-layer", files, "generator.handler.handler")
    response, payload = _invoke(aws, "it-generator-without-layer", {"batch_id": BATCH, "shard": 0, "count": 1})
    assert response["FunctionError"]
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'faker'" in payload["errorMessage"]


def test_timeout_is_enforced(aws, stage) -> None:
    files = {"slow.py": b"import time\n\ndef handler(event, context):\n    time.sleep(30)\n"}
    _create(aws, stage, "it-slow", files, "slow.handler", timeout=1)
    response, payload = _invoke(aws, "it-slow", {})
    assert response["FunctionError"]
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]


def _zip_files(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
