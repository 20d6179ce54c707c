"""Policy evaluation as IAM does it within one account.

A request is allowed when a statement of an identity-based policy, or of the resource's policy naming
the principal, allows it, and no applicable statement of either denies it (explicit Deny wins). A
trust policy is the role's resource policy for ``sts:AssumeRole``: there it must allow, whatever the
caller's own policies say. Statements match on ``Action``/``NotAction`` (case-insensitive wildcards),
``Resource``/``NotResource`` (wildcards), ``Principal``/``NotPrincipal`` (resource policies) and
``Condition`` (``iam_conditions``).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any

from local_aws.iam_conditions import RequestContext, conditions_hold


@dataclass(frozen=True)
class Principal:
    """Who makes a request: an account administrator, an IAM user, a role session or an AWS service."""

    arn: str
    account: str
    kind: str  # "administrator" | "user" | "role" | "service"
    role_arn: str | None = None  # a role session's role
    service: str | None = None  # an AWS service principal, e.g. lambda.amazonaws.com

    @property
    def short(self) -> str:
        return self.service or self.arn


@dataclass(frozen=True)
class Policy:
    """One policy document and what it is, for messages and the audit."""

    name: str  # e.g. "role/x inline pipeline-access", "bucket policy of b"
    document: dict[str, Any]
    resource_based: bool = False

    @classmethod
    def parse(cls, name: str, document: str | dict[str, Any], resource_based: bool = False) -> Policy:
        return cls(name, json.loads(document) if isinstance(document, str) else document, resource_based)

    def statements(self) -> list[tuple[str, dict[str, Any]]]:
        """(Sid, or the statement's position when it has none; statement)."""
        statements = self.document.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        return [(s.get("Sid") or f"#{index}", s) for index, s in enumerate(statements)]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # AWS's wording: "because no identity-based policy allows the s3:GetObject action"
    policy: str | None = None
    statement: str | None = None


def _listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    pattern = pattern.replace("[", "[[]")
    if ignore_case:
        return fnmatch.fnmatchcase(value.lower(), pattern.lower())
    return fnmatch.fnmatchcase(value, pattern)


def _matches_action(statement: dict[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(_wildcard(p, action, ignore_case=True) for p in _listed(statement["Action"]))
    return not any(_wildcard(p, action, ignore_case=True) for p in _listed(statement.get("NotAction", [])))


def _matches_resource(statement: dict[str, Any], resource: str) -> bool:
    if "Resource" in statement:
        return any(_wildcard(p, resource) for p in _listed(statement["Resource"]))
    if "NotResource" in statement:
        return not any(_wildcard(p, resource) for p in _listed(statement["NotResource"]))
    return True  # trust policies have no Resource


def _names_principal(element: Any, principal: Principal) -> tuple[bool, bool]:
    """(the element names the principal, it does so only as its account: a delegation to IAM policies)."""
    if element == "*":
        return True, False
    for kind, values in (element or {}).items():
        for value in _listed(values):
            if kind == "Service" and value == principal.service:
                return True, False
            if kind != "AWS" or principal.service:
                continue
            if value == "*" or value in (principal.arn, principal.role_arn):
                return True, False
            if value in (principal.account, f"arn:aws:iam::{principal.account}:root"):
                return True, True
    return False, False


def _applies(statement: dict[str, Any], policy: Policy, principal: Principal, action: str, resource: str) -> bool:
    if not (_matches_action(statement, action) and _matches_resource(statement, resource)):
        return False
    if policy.resource_based:
        if "NotPrincipal" in statement:
            named, _ = _names_principal(statement["NotPrincipal"], principal)
            if named:
                return False
        else:
            named, delegation = _names_principal(statement.get("Principal"), principal)
            # An Allow naming only the account grants nothing itself: the identity's policies decide.
            if not named or (delegation and statement.get("Effect") == "Allow"):
                return False
    return True


def decide(
    principal: Principal,
    action: str,
    resource: str,
    context: RequestContext,
    identity: list[Policy],
    resource_policies: list[Policy],
    *,
    trust: bool = False,
) -> Decision:
    """Allow or refuse ``action`` on ``resource``; ``trust``: the resource policy is a role's trust policy."""
    allow: Decision | None = None
    identity_allows = False
    for policy in [*identity, *resource_policies]:
        for sid, statement in policy.statements():
            if not _applies(statement, policy, principal, action, resource):
                continue
            if not conditions_hold(statement.get("Condition"), context):
                continue
            kind = "a resource-based" if policy.resource_based else "an identity-based"
            if statement.get("Effect") == "Deny":
                return Decision(False, f"with an explicit deny in {kind} policy", policy.name, sid)
            if policy.resource_based or not trust:
                allow = allow or Decision(True, f"allowed by {kind} policy", policy.name, sid)
            identity_allows = identity_allows or not policy.resource_based
    if trust:
        if allow is None:
            return Decision(False, "because the role's trust policy does not allow it")
        if principal.kind != "service" and not identity_allows:
            return Decision(False, f"because no identity-based policy allows the {action} action")
        return allow
    if allow is None:
        return Decision(False, f"because no identity-based policy allows the {action} action")
    return allow
