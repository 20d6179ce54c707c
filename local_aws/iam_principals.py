"""Who signed a request, what their policies are, and the sessions the local AWS's services hand out.

* A role session: temporary credentials STS issued (AssumeRole through the API, or ``service_session``
  for the executors and the local Airflow, which assume a role as the service principal that runs the
  component on AWS: ``lambda.amazonaws.com``, ``glue.amazonaws.com``, ``airflow-env.amazonaws.com``).
  Its policies are the role's inline and attached policies, read from moto's IAM at each request.
  An unknown session key or a wrong token is refused as AWS refuses it; so is an expired session.
* An IAM user's access key (IAM CreateAccessKey): the user's, its groups' policies.
* Any other long-term key (``testing``, a developer's own): the account's administrator, allowed
  everything its identity can be (resource policies, such as a bucket's TLS-only Deny, still apply).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from local_aws.iam_conditions import RequestContext
from local_aws.iam_policy import Decision, Policy, Principal, decide
from local_aws.iam_requests import KNOWN_KEYS

ADMINISTRATOR_POLICY = Policy(
    "the account administrator's access", {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
# Services renew their sessions well before they end: a Glue run or an Airflow task never sees one expire.
SERVICE_SESSION_S = 12 * 3600


class CredentialsError(Exception):
    """Credentials AWS would not accept: ``code`` is AWS's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: float  # epoch seconds

    def as_container_response(self, role_arn: str) -> dict[str, str]:
        """The body of the container credentials endpoint botocore reads (ECS/Fargate, where MWAA runs)."""
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "Token": self.session_token,
            "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.expiration)),
            "RoleArn": role_arn,
        }


def _document(value: Any) -> Any:
    return json.loads(unquote(value)) if isinstance(value, str) else value


def _iam(account: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account]["aws"]


def _sts(account: str) -> Any:
    from moto.sts.models import sts_backends

    return sts_backends[account]["aws"]


def _managed(policies: Any) -> list[Policy]:
    found = []
    for managed in policies.values():
        version = next((v for v in managed.versions if v.is_default), None)
        if version is not None:
            found.append(Policy.parse(f"managed policy {managed.arn}", _document(version.document)))
    return found


def _find_role(account: str, role_arn: str) -> Any | None:
    """moto's role of that ARN now, or None once it is gone."""
    try:
        return _iam(account).get_role_by_arn(role_arn)
    except Exception:
        return None


def role_policies(account: str, role_arn: str) -> list[Policy]:
    """The role's inline and attached policies now; none if the role is gone (its sessions can do nothing)."""
    role = _find_role(account, role_arn)
    if role is None:
        return []
    inline = [
        Policy.parse(f"role/{role.name} inline policy {name}", _document(document))
        for name, document in role.policies.items()
    ]
    return inline + _managed(role.managed_policies)


def trust_policy(account: str, role_arn: str) -> Policy | None:
    role = _find_role(account, role_arn)
    if role is None:
        return None
    return Policy.parse(f"trust policy of role/{role.name}", _document(role.assume_role_policy_document), True)


def resolve(access_key: str | None, session_token: str | None, account: str) -> tuple[Principal, list[Policy]]:
    """The principal that holds ``access_key`` and its identity-based policies."""
    if not access_key:
        raise CredentialsError("MissingAuthenticationToken", "Request is missing Authentication Token")
    session = _sts(account).get_assumed_role_from_access_key(access_key)
    if session is not None:
        if session_token != session.session_token:
            raise CredentialsError("InvalidClientTokenId", "The security token included in the request is invalid.")
        if session.expiration.timestamp() < time.time():
            raise CredentialsError("ExpiredToken", "The security token included in the request is expired")
        if session.policy:
            raise CredentialsError("AccessDenied", "the local AWS does not evaluate session policies: refused")
        principal = Principal(session.arn, session.account_id, "role", role_arn=session.role_arn)
        return principal, role_policies(session.account_id, session.role_arn)
    if access_key.startswith("ASIA") or session_token:
        raise CredentialsError("InvalidClientTokenId", "The security token included in the request is invalid.")
    iam = _iam(account)
    for user in iam.users.values():
        if any(key.access_key_id == access_key for key in user.access_keys):
            return Principal(user.arn, account, "user"), _user_policies(iam, user)
    return Principal(f"arn:aws:iam::{account}:root", account, "administrator"), [ADMINISTRATOR_POLICY]


def _user_policies(iam: Any, user: Any) -> list[Policy]:
    policies = [
        Policy.parse(f"user/{user.name} inline policy {name}", _document(document))
        for name, document in user.policies.items()
    ]
    policies += _managed(user.managed_policies)
    for group in iam.get_groups_for_user(user.name):
        policies += [
            Policy.parse(f"group/{group.name} inline policy {name}", _document(document))
            for name, document in group.policies.items()
        ]
        policies += _managed(group.managed_policies)
    return policies


class ServiceSessions:
    """Temporary credentials of a role as an AWS service assumes it, reused until close to expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str, str, str], tuple[Credentials, str]] = {}

    def credentials(
        self, account: str, region: str, role_arn: str, service: str, source_arn: str | None
    ) -> Credentials:
        """Assume ``role_arn`` as ``service`` acting for ``source_arn``; the trust policy must allow it."""
        role = _find_role(account, role_arn)
        if role is None:
            raise CredentialsError("AccessDenied", f"the role {role_arn} does not exist")
        key = (role_arn, role.id, service, source_arn or "")
        with self._lock:
            cached = self._sessions.get(key)
            if cached and cached[0].expiration - SERVICE_SESSION_S / 2 > time.time():
                return cached[0]
            decision = trust_decision(account, role_arn, service, source_arn)
            if not decision.allowed:
                raise CredentialsError(
                    "AccessDenied",
                    f"{service} is not authorized to perform: sts:AssumeRole on resource: {role_arn} {decision.reason}",
                )
            session = _sts(account).assume_role(
                region_name=region,
                role_session_name=service.split(".")[0] + "-" + str(int(time.time())),
                role_arn=role_arn,
                policy=None,
                duration=SERVICE_SESSION_S,
                external_id=None,
            )
            credentials = Credentials(
                session.access_key_id, session.secret_access_key, session.session_token, session.expiration.timestamp()
            )
            self._sessions[key] = (credentials, session.arn)
            return credentials


def trust_decision(account: str, role_arn: str, service: str, source_arn: str | None) -> Decision:
    """Whether ``service``, acting for ``source_arn`` of ``account``, may assume ``role_arn``."""
    trust = trust_policy(account, role_arn)
    principal = Principal(service, account, "service", service=service)
    values: dict[str, str | list[str]] = {"aws:sourceaccount": account, "aws:principalisawsservice": "true"}
    if source_arn:
        values["aws:sourcearn"] = source_arn
    context = RequestContext(values, set(KNOWN_KEYS))
    return decide(principal, "sts:AssumeRole", role_arn, context, [], [trust] if trust else [], trust=True)


SERVICE_SESSIONS = ServiceSessions()
