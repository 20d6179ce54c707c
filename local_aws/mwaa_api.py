"""The Amazon MWAA API (REST-JSON, botocore's ``mwaa`` model) of the local AWS, in front of moto.

moto's dispatcher picks a backend from the request's host and path and knows no MWAA, so
``MwaaApi`` answers MWAA requests before moto sees them, as ``metrics.LocalEndpoints`` answers
``/_local/...``. A request is MWAA's when its SigV4 credential scope names the model's signing
name, ``airflow``; every other request goes on to the wrapped app unchanged.

* Routes, parameters and constraints (required members, lengths, ranges, enums, patterns) come
  from botocore's model; an error answers with the model's status and ``x-amzn-ErrorType``, so
  botocore raises the modeled exception (``client.exceptions.ValidationException``...).
* Served: Create/Get/List/Update/DeleteEnvironment and Tag/Untag/ListTagsForResource (``mwaa``,
  each environment running a real Airflow: ``mwaa_airflow``), and InvokeRestApi (``mwaa_rest_api``);
  CreateCliToken, CreateWebLoginToken and PublishMetrics answer 501 ``NotImplemented``.
* Each request is counted in ``metrics.REQUESTS`` as service ``mwaa`` and its operation.
* Account and region as moto finds them: ``MOTO_ACCOUNT_ID``, the ``x-moto-account-id`` header,
  the access key's account (default 123456789012); the credential scope's region.

boto3 sends MWAA requests to ``api.<endpoint host>`` (the model's ``hostPrefix``); against a local
endpoint, clients turn that off: ``Config(inject_host_prefix=False)`` or
``AWS_DISABLE_HOST_PREFIX_INJECTION=true``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from local_aws.metrics import REQUESTS
from local_aws.mwaa_environments import MwaaBackend, MwaaBackends
from local_aws.mwaa_errors import MwaaError, ValidationException
from local_aws.mwaa_rest_api import invoke_rest_api
from local_aws.operations import credential_scope

SERVICE = "mwaa"  # botocore's name, and the request counts'
SIGNING_NAME = "airflow"
_LABEL = re.compile(r"\{([^}+]+)\+?\}")

log = logging.getLogger(__name__)

Handler = Callable[[MwaaBackend, dict[str, Any]], dict[str, Any]]


def _delete(backend: MwaaBackend, params: dict[str, Any]) -> dict[str, Any]:
    backend.delete_environment(params["Name"])
    return {}


def _tag(backend: MwaaBackend, params: dict[str, Any]) -> dict[str, Any]:
    backend.tag_resource(params["ResourceArn"], params["Tags"])
    return {}


def _untag(backend: MwaaBackend, params: dict[str, Any]) -> dict[str, Any]:
    backend.untag_resource(params["ResourceArn"], params["tagKeys"])
    return {}


HANDLERS: dict[str, Handler] = {
    "CreateEnvironment": lambda backend, params: {"Arn": backend.create_environment(params)},
    "GetEnvironment": lambda backend, params: {"Environment": backend.get_environment(params["Name"])},
    "ListEnvironments": lambda backend, params: backend.list_environments(
        params.get("MaxResults"), params.get("NextToken")
    ),
    "UpdateEnvironment": lambda backend, params: {"Arn": backend.update_environment(params)},
    "DeleteEnvironment": _delete,
    "ListTagsForResource": lambda backend, params: {"Tags": backend.list_tags_for_resource(params["ResourceArn"])},
    "TagResource": _tag,
    "UntagResource": _untag,
    "InvokeRestApi": invoke_rest_api,
}


class _Unanswered(MwaaError):
    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status = code, status


def _account_id(environ: dict[str, Any], access_key: str) -> str:
    """The account moto would serve the request from (``BaseResponse.get_current_account``)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"]
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


def _service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(SERVICE)


def _routes(model: Any) -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path pattern, operation) of every operation in the model.

    A label matches one path segment, the last one the rest of the path: PATH_INFO is already
    percent-decoded, so the ``/`` of a ResourceArn (``.../environment/Name``) is back.
    """
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        template = http["requestUri"].partition("?")[0]
        labels = list(_LABEL.finditer(template))
        pattern, position = "", 0
        for index, label in enumerate(labels):
            pattern += re.escape(template[position : label.start()])
            pattern += f"(?P<{label.group(1)}>{'.+' if index == len(labels) - 1 else '[^/]+'})"
            position = label.end()
        pattern += re.escape(template[position:])
        routes.append((http["method"], re.compile(pattern), name))
    return routes


def _member_name(name: str) -> str:
    return name[:1].lower() + name[1:]


def _constraint_errors(shape: Any, value: Any, where: str, errors: list[str]) -> None:
    """The model's constraints ``value`` breaks, worded as AWS words them."""
    metadata = getattr(shape, "metadata", {})
    shown = f"Value at '{where}'" if metadata.get("sensitive") else f"Value '{value}' at '{where}'"

    def fail(constraint: str) -> None:
        errors.append(f"{shown} failed to satisfy constraint: Member must {constraint}")

    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return fail("be a structure")
        for member in shape.required_members:
            if value.get(member) is None:
                errors.append(
                    f"Value null at '{where + '.' if where else ''}{_member_name(member)}' failed to satisfy "
                    "constraint: Member must not be null"
                )
        for member, member_shape in shape.members.items():
            if value.get(member) is not None and member_shape.serialization.get("location") not in ("header",):
                path = f"{where + '.' if where else ''}{_member_name(member)}"
                _constraint_errors(member_shape, value[member], path, errors)
        return None
    if kind in ("list", "map"):
        if not isinstance(value, list if kind == "list" else dict):
            return fail(f"be a {kind}")
        if "min" in metadata and len(value) < metadata["min"]:
            fail(f"have length greater than or equal to {metadata['min']}")
        if "max" in metadata and len(value) > metadata["max"]:
            fail(f"have length less than or equal to {metadata['max']}")
        if kind == "list":
            for index, item in enumerate(value, 1):
                _constraint_errors(shape.member, item, f"{where}.{index}.member", errors)
            return None
        # A map's keys and values are checked as a whole: "Map keys must satisfy constraint: [Member must ...]".
        for part, part_shape, items in (("keys", shape.key, list(value)), ("value", shape.value, list(value.values()))):
            broken: list[str] = []
            for item in items:
                _constraint_errors(part_shape, item, where, broken)
            constraints = dict.fromkeys(error.split("failed to satisfy constraint: ", 1)[-1] for error in broken)
            if constraints:
                errors.append(
                    f"{shown} failed to satisfy constraint: Map {part} must satisfy constraint: "
                    f"[{', '.join(constraints)}]"
                )
        return None
    if kind == "string":
        if not isinstance(value, str):
            return fail("be a string")
        if "min" in metadata and len(value) < metadata["min"]:
            fail(f"have length greater than or equal to {metadata['min']}")
        if "max" in metadata and len(value) > metadata["max"]:
            fail(f"have length less than or equal to {metadata['max']}")
        if shape.enum and value not in shape.enum:
            fail(f"satisfy enum value set: [{', '.join(shape.enum)}]")
        pattern = metadata.get("pattern")
        if pattern and "\\p{" not in pattern and not re.fullmatch(pattern, value):  # \p{L}: Java-only
            fail(f"satisfy regular expression pattern: {pattern}")
        return None
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return fail("be an integer")
        if "min" in metadata and value < metadata["min"]:
            fail(f"have value greater than or equal to {metadata['min']}")
        if "max" in metadata and value > metadata["max"]:
            fail(f"have value less than or equal to {metadata['max']}")
        return None
    if kind == "boolean" and not isinstance(value, bool):
        fail("be a boolean")
    return None


def validate(input_shape: Any, params: dict[str, Any]) -> None:
    """Raise ValidationException listing every constraint of ``input_shape`` that ``params`` breaks."""
    errors: list[str] = []
    _constraint_errors(input_shape, params, "", errors)
    if errors:
        count = len(errors)
        raise ValidationException(f"{count} validation error{'s' if count > 1 else ''} detected: {'; '.join(errors)}")


def _params(input_shape: Any, labels: dict[str, str], environ: dict[str, Any]) -> dict[str, Any]:
    """The operation's input, from the path labels, the query string and the JSON body."""
    params: dict[str, Any] = {}
    body: dict[str, Any] = {}
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        raw = environ["wsgi.input"].read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            raise ValidationException("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise ValidationException("The request body must be a JSON object.")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    for member, shape in input_shape.members.items() if input_shape is not None else ():
        location = shape.serialization.get("location")
        name = shape.serialization.get("name", member)
        if location == "uri":
            if name in labels:
                params[member] = labels[name]
        elif location == "querystring":
            if name not in query:
                continue
            values = query[name]
            if shape.type_name == "list":
                params[member] = values
            elif shape.type_name in ("integer", "long"):
                try:
                    params[member] = int(values[0])
                except ValueError:
                    raise ValidationException(f"{name}={values[0]!r} is not an integer.") from None
            else:
                params[member] = values[0]
        elif location is None and member in body:
            params[member] = body[member]
    return params


def _respond(
    start_response: Callable[..., Any], status: int, body: dict[str, Any], code: str | None = None
) -> list[bytes]:
    payload = json.dumps(body).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(payload))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    if code is not None:
        headers.append(("x-amzn-ErrorType", code))
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [payload]


class MwaaApi:
    """WSGI middleware: answers Amazon MWAA requests, passes every other request to ``app``.

    ``POST /moto-api/reset`` (moto's reset of every backend) also forgets the environments.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], backends: MwaaBackends | None = None) -> None:
        self.app = app
        self.backends = MwaaBackends() if backends is None else backends
        self.model = _service_model()
        self.routes = _routes(self.model)

    def route(self, method: str, path: str) -> tuple[str, dict[str, str]] | None:
        for route_method, pattern, operation in self.routes:
            match = pattern.fullmatch(path) if route_method == method else None
            if match:
                return operation, match.groupdict()
        return None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        scope = credential_scope(environ)
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "") or "/"
        if scope is None or scope[2] != SIGNING_NAME:
            if method == "POST" and path == "/moto-api/reset":
                self.backends.reset()
            return self.app(environ, start_response)
        access_key, region, _ = scope
        routed = self.route(method, path)
        REQUESTS.add(SERVICE, routed[0] if routed else f"{method} (unrecognized)")
        try:
            if routed is None:
                raise _Unanswered("UnknownOperationException", 404, f"No MWAA operation is {method} {path}.")
            operation, labels = routed
            if operation not in HANDLERS:
                raise _Unanswered("NotImplemented", 501, f"The local AWS does not emulate MWAA {operation}.")
            input_shape = self.model.operation_model(operation).input_shape
            params = _params(input_shape, labels, environ)
            validate(input_shape, params)
            backend = self.backends.get(_account_id(environ, access_key), region)
            return _respond(start_response, 200, HANDLERS[operation](backend, params))
        except MwaaError as err:
            return _respond(start_response, err.status, err.members(), err.code)
        except Exception as err:
            log.exception("MWAA %s %s failed", method, path)
            return _respond(start_response, 500, {"message": f"{type(err).__name__}: {err}"}, "InternalServerException")
