"""The AWS service and operation of an HTTP request to the emulator, from the request alone.

* service: the SigV4 credential scope's service (``Authorization`` header, or
  ``X-Amz-Credential`` of a presigned URL): ``dynamodb``, ``s3``, ``lambda``, ``glue``...
* operation, by protocol:
  - JSON (DynamoDB, Glue, CloudWatch Logs, SQS): the ``X-Amz-Target`` header's suffix;
  - query (STS, SNS, IAM): the ``Action`` parameter, in the query string or the form body;
  - REST (S3, Lambda): matched against botocore's model of the service, as botocore
    built the request: HTTP method, ``requestUri`` (path template and literal query
    such as ``?list-type=2``) and the operation's required header and query members
    (``x-amz-copy-source`` makes a PUT a CopyObject, ``partNumber``+``uploadId`` an
    UploadPart). The most specific match wins: ``GET /b?list-type=2`` is ListObjectsV2,
    ``GET /b`` ListObjects, ``POST /2015-03-31/functions/f/invocations`` Invoke.
"""

from __future__ import annotations

import functools
import io
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote

UNSIGNED = "unsigned"
_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
_TEMPLATE_PART = re.compile(r"\{([^}]+?)(\+?)\}")
_RPC_V2_PATH = re.compile(r"^/service/[^/]+/operation/([^/]+)$")


@dataclass(frozen=True)
class _RestOperation:
    name: str
    method: str
    path: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]  # literal query of the requestUri: (name, value or None = present)
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]  # as WSGI environ keys
    literal_length: int

    def specificity(self, query: dict[str, list[str]], environ: dict[str, Any]) -> tuple[int, int] | None:
        """How specifically this operation matches the request (higher wins); None if it does not."""
        for name, value in self.query:
            if name not in query or (value is not None and value not in query[name]):
                return None
        if any(name not in query for name in self.required_query):
            return None
        if any(name not in environ for name in self.required_headers):
            return None
        return len(self.query) + len(self.required_query) + len(self.required_headers), self.literal_length


def _path_pattern(template: str) -> tuple[re.Pattern[str], int]:
    parts, literal, position = [], 0, 0
    for match in _TEMPLATE_PART.finditer(template):
        parts.append(re.escape(template[position : match.start()]))
        literal += match.start() - position
        parts.append(f"(?P<{match.group(1)}>{'.+' if match.group(2) else '[^/]+'})")
        position = match.end()
    parts.append(re.escape(template[position:]))
    literal += len(template) - position
    # "/bucket/" is the bucket, not an empty key.
    tail = "" if template.endswith("+}") or template.endswith("/") else "/?"
    return re.compile("^" + "".join(parts) + tail + "$"), literal


def _rest_operations(model: Any) -> dict[str, list[_RestOperation]]:
    by_method: dict[str, list[_RestOperation]] = {}
    for name in model.operation_names:
        operation = model.operation_model(name)
        path, _, literal_query = operation.http["requestUri"].partition("?")
        query = []
        for pair in filter(None, literal_query.split("&")):
            key, has_value, value = pair.partition("=")
            if key != "x-id":  # botocore's marker, not always sent
                query.append((key, value if has_value else None))
        required_query, required_headers = [], []
        shape = operation.input_shape
        for member in shape.required_members if shape is not None else ():
            serialization = shape.members[member].serialization
            if serialization.get("location") == "querystring":
                required_query.append(serialization["name"])
            elif serialization.get("location") == "header":
                required_headers.append("HTTP_" + serialization["name"].upper().replace("-", "_"))
        pattern, literal = _path_pattern(path)
        method = operation.http["method"]
        by_method.setdefault(method, []).append(
            _RestOperation(name, method, pattern, tuple(query), tuple(required_query), tuple(required_headers), literal)
        )
    return by_method


# Signing name -> the name of botocore's model, where they differ.
SERVICE_MODELS = {"airflow": "mwaa", "monitoring": "cloudwatch"}
_models: dict[str, dict[str, list[_RestOperation]] | None] = {}


@functools.cache
def service_model(service: str) -> Any:
    """botocore's model of the service a signing name names (loaded once: it is a large JSON file)."""
    import botocore.session

    return botocore.session.get_session().get_service_model(SERVICE_MODELS.get(service, service))


_models_lock = threading.Lock()


def _rest_model(service: str) -> dict[str, list[_RestOperation]] | None:
    """The REST operations of botocore's model for ``service`` (a signing name); None if not a REST service."""
    with _models_lock:
        if service not in _models:
            from botocore.exceptions import UnknownServiceError

            try:
                model = service_model(service)
            except UnknownServiceError:
                _models[service] = None
            else:
                _models[service] = _rest_operations(model) if model.protocol.startswith("rest-") else None
        return _models[service]


def credential_scope(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """(access key, region, service) of a request signed with SigV4 in its ``Authorization`` header; None if
    it is not."""
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return (match.group(1), match.group(2), match.group(3)) if match else None


def _service(environ: dict[str, Any], query: dict[str, list[str]]) -> str:
    scope = credential_scope(environ)
    if scope:
        return scope[2]
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    credential = query.get("X-Amz-Credential")
    if credential:  # SigV4 presigned URL: key/date/region/service/aws4_request
        parts = credential[0].split("/")
        if len(parts) == 5:
            return parts[3]
    if authorization.startswith("AWS ") or "AWSAccessKeyId" in query:  # SigV2, which only S3 still takes
        return "s3"
    return UNSIGNED


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body, put back for moto (and the next reader)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _form_action(environ: dict[str, Any]) -> str | None:
    """The ``Action`` of a form-encoded body."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = read_body(environ)
    actions = parse_qs(body.decode("utf-8", errors="replace")).get("Action")
    return actions[0] if actions else None


def _s3_path(environ: dict[str, Any], path: str) -> str:
    """Virtual-hosted-style S3 (``bucket.localhost``, ``bucket.s3.<region>.amazonaws.com``) as path-style."""
    host = environ.get("HTTP_HOST", "").rsplit(":", 1)[0]
    bucket, _, rest = host.partition(".")
    if bucket and (rest == "localhost" or rest.startswith(("s3.", "s3-"))):
        return f"/{bucket}{path}"
    return path


def rest_operation(environ: dict[str, Any], service: str) -> tuple[str, dict[str, str]] | None:
    """(operation, URI labels such as ``{"Bucket": ..., "Key": ...}``) of a REST request; None if none matches."""
    rest = _rest_model(service)
    if rest is None:
        return None
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    method = environ.get("REQUEST_METHOD", "GET")
    # The path as sent: a label may hold an encoded "/" (MWAA's /tags/{ResourceArn}); labels are decoded after.
    raw = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or "").partition("?")[0]
    path = raw if raw.startswith("/") else quote(environ.get("PATH_INFO", "") or "/")
    if service == "s3":
        path = _s3_path(environ, path)
    best: tuple[tuple[int, int], str, dict[str, str]] | None = None
    for operation in rest.get(method, ()):
        match = operation.path.match(path)
        if not match:
            continue
        specificity = operation.specificity(query, environ)
        if specificity is not None and (best is None or specificity > best[0]):
            best = specificity, operation.name, {key: unquote(value) for key, value in match.groupdict().items()}
    return (best[1], best[2]) if best else None


def service_and_operation(environ: dict[str, Any]) -> tuple[str, str]:
    """(service, operation) of the request ``environ`` describes, e.g. ``("s3", "ListObjectsV2")``."""
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    service = _service(environ, query)
    method = environ.get("REQUEST_METHOD", "GET")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rpartition(".")[2]
    rpc = _RPC_V2_PATH.match(environ.get("PATH_INFO", ""))
    if rpc and method == "POST":  # Smithy RPC v2 CBOR (CloudWatch): /service/<name>/operation/<operation>
        return service, rpc.group(1)
    rest = _rest_model(service) if service != UNSIGNED else None
    if rest is None:
        action = query.get("Action", [None])[0] or (_form_action(environ) if method == "POST" else None)
        return service, action or f"{method} (unrecognized)"
    matched = rest_operation(environ, service)
    return service, matched[0] if matched else f"{method} (unrecognized)"
