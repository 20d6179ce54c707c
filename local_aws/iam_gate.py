"""IAM in front of every AWS request the local AWS serves, and its audit.

Each request is read (``iam_requests``), its signer resolved (``iam_principals``) and every check it
needs decided (``iam_policy``) against the principal's policies and the resource's policy (bucket,
topic, queue; a role's trust policy for AssumeRole). A refusal is answered as the service answers it
on AWS (``AccessDenied`` / ``AccessDeniedException`` naming principal, action and resource), before
moto sees the request. ``LOCAL_AWS_IAM=off`` decides and audits every request but refuses none.

``GET /_local/iam-audit`` lists the decisions (principal, action, resource, the statement that allowed
it or why it was refused, how often), ``DELETE`` also clears them. ``GET /_local/role-credentials/
<service>/<role name>`` hands out the role's session as ``<service>`` assumes it (trust policy
checked), in the container-credentials form botocore reads from ``AWS_CONTAINER_CREDENTIALS_FULL_URI``:
that is how the local Airflow's tasks run as the MWAA execution role.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from local_aws import iam_principals, iam_requests, sns_kms
from local_aws.iam_conditions import NotUnderstoodError
from local_aws.iam_policy import Decision, Policy, Principal, decide
from local_aws.operations import service_model

AUDIT_PATH = "/_local/iam-audit"
CREDENTIALS_PATH = "/_local/role-credentials/"
SWITCH = "LOCAL_AWS_IAM"
DEFAULT_ACCOUNT = "123456789012"


def enforced() -> bool:
    return os.environ.get(SWITCH, "on").strip().lower() not in ("off", "0", "false", "no")


class Audit:
    """Every decision, aggregated: (principal, role, action, resource, outcome, statement) -> count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[Any, ...], dict[str, Any]] = {}

    def add(self, principal: Principal, operation: str, action: str, resource: str, decision: Decision) -> None:
        key = (principal.arn, action, resource, decision.allowed, decision.policy, decision.statement, decision.reason)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = {
                    "principal": principal.arn,
                    "role": principal.role_arn,
                    "operation": operation,
                    "action": action,
                    "resource": resource,
                    "allowed": decision.allowed,
                    "policy": decision.policy,
                    "statement": decision.statement,
                    "reason": decision.reason,
                    "count": 0,
                }
            entry["count"] += 1

    def snapshot(self, reset: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            entries = [dict(entry) for entry in self._entries.values()]
            if reset:
                self._entries.clear()
        return entries


AUDIT = Audit()


def resource_policies(account: str, action: str, resource: str) -> list[Policy]:
    """The policy the resource itself carries, if any."""
    try:
        if resource.startswith("arn:aws:s3:::"):
            from moto.s3.models import s3_backends

            bucket = s3_backends[account]["aws"].buckets.get(resource[len("arn:aws:s3:::") :].split("/", 1)[0])
            if bucket is not None and bucket.policy:
                return [Policy.parse(f"bucket policy of {bucket.name}", bucket.policy.decode(), True)]
        elif resource.startswith("arn:aws:sns:"):
            from moto.sns.models import sns_backends

            topic = sns_backends[account][resource.split(":")[3]].topics.get(resource)
            if topic is not None:
                return [Policy.parse(f"topic policy of {topic.name}", topic.policy, True)]
        elif resource.startswith("arn:aws:sqs:"):
            from moto.sqs.models import sqs_backends

            queue = sqs_backends[account][resource.split(":")[3]].queues.get(resource.split(":")[5])
            if queue is not None and queue.policy:
                return [Policy.parse(f"queue policy of {queue.name}", queue.policy, True)]
        elif action == "sts:AssumeRole":
            trust = iam_principals.trust_policy(account, resource)
            return [trust] if trust else []
    except (KeyError, ValueError):
        return []
    return []


def denied_message(principal: Principal, action: str, resource: str, reason: str) -> str:
    return f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource} {reason}"


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    size = len(data)
    if size < 24:
        head = bytes([0x60 | size])
    elif size < 256:
        head = bytes([0x78, size])
    else:
        head = bytes([0x79]) + size.to_bytes(2, "big")
    return head + data


def error_response(
    service: str, code: str, message: str, status: int = 403
) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of an error as ``service``'s protocol carries it."""
    from botocore.exceptions import UnknownServiceError

    request_id = str(uuid.uuid4())
    try:
        # The protocol botocore speaks to the service (CloudWatch's model lists CBOR first, botocore sends JSON).
        model = service_model(service)
        protocol, query_compatible = model.resolved_protocol, "awsQueryCompatible" in model.metadata
    except UnknownServiceError:
        protocol, query_compatible = "rest-json", False
    headers = [("x-amzn-RequestId", request_id)]
    if protocol == "json":
        status = 400  # JSON protocols answer client errors, AccessDeniedException included, with 400
        json_code = code if code.endswith("Exception") else "AccessDeniedException"
        headers += [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", json_code)]
        if query_compatible:  # SQS, CloudWatch: botocore reads the query protocol's error code from this header
            headers.append(("x-amzn-query-error", f"{code};Sender"))
        body = json.dumps({"__type": json_code, "message": message}).encode()
    elif protocol == "rest-json":
        json_code = code if code.endswith("Exception") else "AccessDeniedException"
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", json_code)]
        body = json.dumps({"Type": "User", "message": message, "Message": message}).encode()
    elif protocol == "smithy-rpc-v2-cbor":
        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        body = bytes([0xA2]) + _cbor_text("__type") + _cbor_text(code) + _cbor_text("message") + _cbor_text(message)
    elif protocol == "rest-xml":
        headers.append(("Content-Type", "application/xml"))
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{_xml(message)}</Message>'
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
    else:  # query
        code = "AuthorizationError" if service == "sns" and code == "AccessDenied" else code
        headers.append(("Content-Type", "text/xml"))
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{_xml(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    reasons = {400: "Bad Request", 403: "Forbidden"}
    return f"{status} {reasons.get(status, 'Error')}", headers, body


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def authorize(call: iam_requests.Call, account: str = DEFAULT_ACCOUNT) -> tuple[Principal | None, str | None, str]:
    """(principal, refusal message or None, error code) for ``call``; every decision goes to ``AUDIT``."""
    try:
        principal, identity = iam_principals.resolve(call.access_key, call.session_token, account)
    except iam_principals.CredentialsError as err:
        return None, str(err), err.code
    try:
        needed = iam_requests.checks(call, principal.account)
    except NotUnderstoodError as err:
        decision = Decision(False, f"because {err}")
        AUDIT.add(principal, call.operation, f"{call.prefix}:{call.operation}", "?", decision)
        return principal, f"User: {principal.arn} is not authorized to perform: {call.operation}: {err}", "AccessDenied"
    for check in needed:
        try:
            context = iam_requests.global_context(call, principal, check.resource, check.keys)
            policies = resource_policies(principal.account, check.action, check.resource)
            decision = decide(
                principal,
                check.action,
                check.resource,
                context,
                identity,
                policies,
                trust=check.action == "sts:AssumeRole",
            )
        except (NotUnderstoodError, ValueError) as err:
            decision = Decision(False, f"because {err}")
        AUDIT.add(principal, call.operation, check.action, check.resource, decision)
        if not decision.allowed:
            return principal, denied_message(principal, check.action, check.resource, decision.reason), "AccessDenied"
    # Publish names its topic as TopicArn or TargetArn (what the provider's SnsHook sends), PublishBatch as TopicArn.
    topic = call.params.get("TopicArn") or call.params.get("TargetArn") if call.prefix == "sns" else None
    if call.operation in ("Publish", "PublishBatch") and topic:
        # SNS uses an encrypted topic's key as the publisher: KMS decides that too.
        topic = str(topic)
        context = iam_requests.global_context(call, principal, topic, {})
        refusal = sns_kms.publish_refusal(principal, identity, topic, context, AUDIT)
        if refusal is not None:
            return principal, refusal.message, refusal.code
    return principal, None, ""


def service_may(account: str, region: str, role_arn: str, operation: str, checks: list[tuple[str, str]]) -> bool:
    """Whether an AWS service acting with ``role_arn`` may make its own calls (Lambda and Glue writing a
    run's logs): each (action, resource) decided and audited as a request of that role would be. On AWS a
    refused log write loses the log and the run goes on; the audit shows it."""
    principal = Principal(
        role_arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/service",
        account,
        "role",
        role_arn=role_arn,
    )
    identity = iam_principals.role_policies(account, role_arn)
    call = iam_requests.Call(operation.split(":")[0], operation.split(":")[1], region, None, None, {})
    allowed = True
    for action, resource in checks:
        context = iam_requests.global_context(call, principal, resource, {})
        decision = decide(principal, action, resource, context, identity, [])
        AUDIT.add(principal, call.operation, action, resource, decision)
        allowed = allowed and decision.allowed
    return allowed or not enforced()


def may_write_log(account: str, region: str, role_arn: str, service: str, group: str, stream: str) -> bool:
    """Whether ``service``, acting with ``role_arn``, may create ``stream`` in ``group`` and write to it."""
    arn = f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}"
    checks = [("logs:CreateLogStream", arn), ("logs:PutLogEvents", arn)]
    return service_may(account, region, role_arn, f"{service}:WriteLogs", checks)


class IamGate:
    """WSGI middleware: decides each AWS request before ``app`` (the MWAA API and moto) sees it."""

    def __init__(self, app: Callable[..., Iterable[bytes]], enforce: bool | None = None) -> None:
        self.app = app
        self.enforce = enforced() if enforce is None else enforce

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.rstrip("/") == AUDIT_PATH:
            return self._audit(environ, start_response)
        if path.startswith(CREDENTIALS_PATH):
            return self._credentials(path[len(CREDENTIALS_PATH) :], start_response)
        if path.startswith(("/_local", "/moto-api")):  # the emulator's own endpoints, not AWS
            return self.app(environ, start_response)
        call = iam_requests.read_call(environ)
        _, refusal, code = authorize(call)
        if refusal is not None and self.enforce:
            status, headers, body = error_response(
                call.service, code, refusal, sns_kms.STATUS if code.startswith("KMS") else 403
            )
            start_response(status, [*headers, ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)

    def _audit(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        body = {"enforced": self.enforce, "calls": AUDIT.snapshot(reset=method == "DELETE")}
        return _json(start_response, "200 OK", body)

    def _credentials(self, rest: str, start_response: Callable[..., Any]) -> list[bytes]:
        service, _, role = rest.partition("/")
        role_arn = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/{role}"
        try:
            credentials = iam_principals.SERVICE_SESSIONS.credentials(
                DEFAULT_ACCOUNT, "us-east-1", role_arn, service, None
            )
        except iam_principals.CredentialsError as err:
            return _json(start_response, "403 Forbidden", {"code": err.code, "message": str(err)})
        return _json(start_response, "200 OK", credentials.as_container_response(role_arn))


def _json(start_response: Callable[..., Any], status: str, body: Any) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]
