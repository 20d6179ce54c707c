"""What an HTTP request to the local AWS asks IAM: the actions, their resources and the condition keys.

A request names its service (the SigV4 scope) and its operation (``operations``); its parameters come
from the JSON or query body, or for REST services from the URI, the query string and a few headers,
as botocore's model of the service places them. Most operations need the IAM action of the same name;
``_ACTIONS`` lists the ones that do not (S3's in particular), and a few operations need one check per
item (``BatchWriteItem`` per table, ``DeleteObjects`` per key, ``CopyObject`` on both objects).

The resource of each check is the action's resource type from IAM's catalogue (``iam_catalog``) with
its ARN filled from the request; when several types fit, the one the request names most precisely
(``Query`` with ``IndexName``: the index). An action the catalogue does not list, or a required
resource the request does not tell, raises ``NotUnderstoodError``: the request is refused.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.etree import ElementTree

from local_aws import iam_catalog
from local_aws.iam_conditions import NotUnderstoodError, RequestContext
from local_aws.operations import credential_scope, read_body, rest_operation, service_and_operation, service_model

# Signing name -> IAM's service prefix, where they differ.
_PREFIXES = {"monitoring": "cloudwatch"}
# (IAM prefix, API operation) -> the IAM action it needs, where it is not the operation's own name.
_ACTIONS = {
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "ListBuckets"): "ListAllMyBuckets",
    ("s3", "ListObjectVersions"): "ListBucketVersions",
    ("s3", "CreateMultipartUpload"): "PutObject",
    ("s3", "UploadPart"): "PutObject",
    ("s3", "CompleteMultipartUpload"): "PutObject",
    ("s3", "ListMultipartUploads"): "ListBucketMultipartUploads",
    ("s3", "ListParts"): "ListMultipartUploadParts",
    ("s3", "GetBucketEncryption"): "GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "PutEncryptionConfiguration",
    ("s3", "DeleteBucketEncryption"): "PutEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "PutBucketPublicAccessBlock",
    ("s3", "DeletePublicAccessBlock"): "PutBucketPublicAccessBlock",
    ("s3", "GetBucketLifecycleConfiguration"): "GetLifecycleConfiguration",
    ("s3", "GetBucketLifecycle"): "GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycle"): "PutLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "PutLifecycleConfiguration",
    ("s3", "DeleteBucketLifecycle"): "PutLifecycleConfiguration",
    ("s3", "DeleteBucketTagging"): "PutBucketTagging",
    ("s3", "GetBucketNotificationConfiguration"): "GetBucketNotification",
    ("s3", "PutBucketNotificationConfiguration"): "PutBucketNotification",
    ("s3", "GetBucketCors"): "GetBucketCORS",
    ("s3", "PutBucketCors"): "PutBucketCORS",
    ("s3", "DeleteObjects"): "DeleteObject",
    ("s3", "CopyObject"): "PutObject",
    ("lambda", "Invoke"): "InvokeFunction",
}
# MWAA operations decided on an Airflow role of the environment (rbac-role): the one the local AWS grants.
_AIRFLOW_ROLE = {"InvokeRestApi": "Admin", "CreateWebLoginToken": "Admin"}
# Operations AWS answers without any permission.
_UNCHECKED = {("sts", "GetCallerIdentity")}
# A version id turns these into their *Version actions.
_VERSIONED = {"GetObject": "GetObjectVersion", "DeleteObject": "DeleteObjectVersion"}
# Catalogue placeholder -> request parameters that carry it (service-specific ones in _SERVICE_ALIASES).
_ALIASES = {
    "BucketName": ("Bucket",),
    "ObjectName": ("Key",),
    "LogGroupName": ("logGroupName",),
    "LogStreamName": ("logStreamName",),
    "RoleNameWithPath": ("RoleName",),
    "UserNameWithPath": ("UserName",),
    "GroupNameWithPath": ("GroupName",),
    "LayerVersion": ("VersionNumber",),
}
_SERVICE_ALIASES = {
    "airflow": {"EnvironmentName": ("Name",)},
    "ec2": {"SecurityGroupId": ("GroupId",)},
    "glue": {"JobName": ("Name",)},
    "kms": {"KeyId": ("KeyId", "TargetKeyId")},
    "sns": {"TopicName": ("Name",)},
}
# CloudWatch operations that name several resources: one check per name, of the list parameter's placeholder.
_CLOUDWATCH_LISTS = {
    "DescribeAlarms": ("AlarmNames", "AlarmName"),
    "DeleteAlarms": ("AlarmNames", "AlarmName"),
    "EnableAlarmActions": ("AlarmNames", "AlarmName"),
    "DisableAlarmActions": ("AlarmNames", "AlarmName"),
    "DeleteDashboards": ("DashboardNames", "DashboardName"),
}
# EC2 operations that make a resource, which has no id before: AWS checks them on <type>/*.
_EC2_NEW = ("Create", "Allocate")
# EC2's query lists: ``VpcEndpointId.1``, ``VpcEndpointId.2``... (one check per member).
_EC2_MEMBER = re.compile(r"^([A-Za-z]+)\.(\d+)$")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
# Condition keys of a service that the local AWS computes, per IAM action (absent when the request lacks them).
_SERVICE_KEYS = {
    "s3:ListBucket": {"s3:prefix": "Prefix", "s3:delimiter": "Delimiter", "s3:max-keys": "MaxKeys"},
    "s3:ListBucketVersions": {"s3:prefix": "Prefix", "s3:delimiter": "Delimiter", "s3:max-keys": "MaxKeys"},
    "cloudwatch:PutMetricData": {"cloudwatch:namespace": "Namespace"},
    "sts:AssumeRole": {"sts:externalid": "ExternalId", "sts:rolesessionname": "RoleSessionName"},
}
# Keys known for every request that no request here carries: no organizations, VPCs, MFA or service chains.
_ABSENT_KEYS = {
    "aws:principalorgid",
    "aws:sourceorgid",
    "aws:principalorgpaths",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:vpcsourceip",
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
    "aws:multifactorauthpresent",
    "aws:multifactorauthage",
    "kms:viaservice",
}


# Every condition key the local AWS evaluates (a request may lack some: they then do not match).
KNOWN_KEYS = frozenset(
    {
        "aws:securetransport",
        "aws:currenttime",
        "aws:epochtime",
        "aws:requestedregion",
        "aws:sourceip",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principaltype",
        "aws:principalisawsservice",
        "aws:viaawsservice",
        "aws:resourceaccount",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceowner",
        *_ABSENT_KEYS,
        *(key for keys in _SERVICE_KEYS.values() for key in keys),
    }
)


@dataclass(frozen=True)
class Call:
    """One AWS API request as the local AWS received it."""

    service: str  # the signing name: s3, dynamodb, monitoring, airflow...
    operation: str
    region: str
    access_key: str | None
    session_token: str | None
    params: dict[str, Any]
    source_ip: str = "127.0.0.1"

    @property
    def prefix(self) -> str:
        return _PREFIXES.get(self.service, self.service)


@dataclass(frozen=True)
class Check:
    """One question for IAM: may the principal perform ``action`` on ``resource``?"""

    action: str
    resource: str
    keys: dict[str, str | list[str]]  # the request's service-specific condition keys (lower-cased)


def _rest_params(environ: dict[str, Any], service: str, operation: str, labels: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = dict(labels)
    shape = service_model(service).operation_model(operation).input_shape
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    for member, member_shape in (shape.members if shape is not None else {}).items():
        location, name = member_shape.serialization.get("location"), member_shape.serialization.get("name", member)
        if location == "querystring" and name in query:
            params[member] = query[name][0]
        elif location == "header":
            value = environ.get("HTTP_" + name.upper().replace("-", "_"))
            if value is not None:
                params[member] = value
    body_members = (
        shape is not None
        and "payload" not in shape.serialization
        and any("location" not in member.serialization for member in shape.members.values())
    )
    if body_members and service != "s3":  # rest-json: the members without a location are the JSON body
        body = read_body(environ)
        document = json.loads(body) if body.strip() else {}
        params.update({key: value for key, value in document.items() if key not in params})
    if operation == "DeleteObjects":  # the keys are in the XML body
        root = ElementTree.fromstring(read_body(environ) or b"<Delete/>")
        params["Objects"] = [
            {child.tag.rpartition("}")[2]: child.text for child in element}
            for element in root
            if element.tag.endswith("Object")
        ]
    return params


def read_call(environ: dict[str, Any]) -> Call:
    """The service, operation and parameters of the request ``environ`` describes."""
    service, operation = service_and_operation(environ)
    scope = credential_scope(environ)
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if scope:
        access_key, region = scope[0], scope[1]
    else:  # a presigned URL
        credential = query.get("X-Amz-Credential", [""])[0].split("/")
        access_key, region = (credential[0], credential[2]) if len(credential) == 5 else (None, "us-east-1")
    token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN") or query.get("X-Amz-Security-Token", [None])[0]
    params: dict[str, Any] = {}
    matched = rest_operation(environ, service)
    if matched is not None:
        params = _rest_params(environ, service, operation, matched[1])
    elif environ.get("HTTP_X_AMZ_TARGET"):
        body = read_body(environ)
        params = json.loads(body) if body.strip() else {}
    elif environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(read_body(environ).decode("utf-8", errors="replace"), keep_blank_values=True)
        params = {key: values[0] for key, values in {**query, **form}.items()}
    return Call(service, operation, region, access_key, token, params, environ.get("REMOTE_ADDR", "127.0.0.1"))


def _function_name(value: str) -> tuple[str, str | None]:
    """Lambda's FunctionName forms (name, name:qualifier, account:function:name, ARN) -> (name, qualifier)."""
    parts = value.split(":")
    if value.startswith("arn:"):
        parts = parts[6:]
    elif len(parts) >= 3 and parts[1] == "function":
        parts = parts[2:]
    return parts[0], parts[1] if len(parts) > 1 else None


def _values(call: Call, account: str) -> dict[str, str]:
    """Catalogue placeholder -> value, from the request."""
    values = {"Partition": "aws", "Region": call.region, "Account": account}
    for key, value in call.params.items():
        if isinstance(value, str):
            values.setdefault(key, value)
    aliases = {**_ALIASES, **_SERVICE_ALIASES.get(call.prefix, {})}
    for placeholder, names in aliases.items():
        for name in names:
            if isinstance(call.params.get(name), str):
                values[placeholder] = call.params[name]
                break
    if "FunctionName" in values:
        values["FunctionName"], qualifier = _function_name(values["FunctionName"])
        qualifier = call.params.get("Qualifier") or qualifier
        if qualifier:
            values["FunctionName"] += f":{qualifier}"
    if call.prefix == "kms" and isinstance(call.params.get("AliasName"), str):  # alias/x: arn:...:alias/x
        values["Alias"] = call.params["AliasName"].rpartition(":")[2].removeprefix("alias/")
    if isinstance(call.params.get("QueueUrl"), str):
        values["QueueName"] = call.params["QueueUrl"].rstrip("/").rpartition("/")[2]
    return values


def _template_pattern(arn: str) -> re.Pattern[str]:
    parts, position = [], 0
    for match in _PLACEHOLDER.finditer(arn):
        parts.append(re.escape(arn[position : match.start()]))
        parts.append(".+")
        position = match.end()
    parts.append(re.escape(arn[position:]))
    return re.compile("^" + "".join(parts) + "$")


def resource_of(action: iam_catalog.Action, call: Call, account: str) -> str:
    """The ARN ``action`` is checked against for ``call``: the resource type the request names most precisely."""
    if not action.resource_types:
        return "*"
    values = _values(call, account)
    filled = [(len(t.placeholders), t.fill(values)) for t in action.resource_types]
    candidates = sorted((n, arn) for n, arn in filled if arn is not None)
    if candidates:
        return candidates[-1][1]
    if action.service == "ec2" and action.name.startswith(_EC2_NEW):  # no id yet: AWS checks <type>/*
        for resource_type in action.resource_types:
            if resource_type.required:
                return resource_type.fill({**{p: "*" for p in resource_type.placeholders}, **values})
    for key, value in call.params.items():  # an ARN given whole: TopicArn, RoleArn, ResourceArn...
        if key.endswith("Arn") and isinstance(value, str):
            for resource_type in action.resource_types:
                if _template_pattern(resource_type.arn).match(value):
                    return value
    if not any(t.required for t in action.resource_types):
        return "*"
    wanted = ", ".join(t.arn for t in action.resource_types)
    raise NotUnderstoodError(
        f"the local AWS cannot tell the resource of {action.qualified} ({wanted}) from the request"
    )


def _service_keys(qualified: str, params: dict[str, Any]) -> dict[str, str | list[str]]:
    keys: dict[str, str | list[str]] = {}
    for key, param in _SERVICE_KEYS.get(qualified, {}).items():
        if params.get(param) is not None:
            keys[key] = str(params[param])
    return keys


def _check(call: Call, account: str, operation_action: str, params: dict[str, Any] | None = None) -> Check:
    qualified = f"{call.prefix}:{operation_action}"
    try:
        action = iam_catalog.action(qualified)
    except iam_catalog.UnknownActionError:
        raise NotUnderstoodError(
            f"{call.service} {call.operation} needs {qualified}, which is not in IAM's catalogue"
        ) from None
    item_call = call if params is None else Call(**{**call.__dict__, "params": {**call.params, **params}})
    return Check(
        action.qualified, resource_of(action, item_call, account), _service_keys(action.qualified, item_call.params)
    )


def _ec2_members(call: Call) -> list[tuple[str, str]]:
    """``(VpcEndpointId, id)`` for each ``VpcEndpointId.N`` of an EC2 query request, in order."""
    if call.prefix != "ec2":
        return []
    numbered = [(m.group(1), int(m.group(2)), v) for k, v in call.params.items() if (m := _EC2_MEMBER.match(k))]
    return [(base, str(value)) for base, _, value in sorted(numbered)]


def checks(call: Call, account: str) -> list[Check]:
    """Every IAM check ``call`` needs (none for calls AWS never authorizes)."""
    if (call.prefix, call.operation) in _UNCHECKED:
        return []
    name = _ACTIONS.get((call.prefix, call.operation), call.operation)
    params = call.params
    if call.prefix == "dynamodb" and call.operation in ("BatchWriteItem", "BatchGetItem"):
        return [_check(call, account, call.operation, {"TableName": table}) for table in params.get("RequestItems", {})]
    if call.prefix == "dynamodb" and call.operation in ("TransactWriteItems", "TransactGetItems"):
        found = []
        for item in params.get("TransactItems", []):
            for kind, body in item.items():
                action = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "Get": "GetItem"}
                found.append(_check(call, account, action.get(kind, "ConditionCheckItem"), body))
        return found
    if call.prefix == "s3" and call.operation == "DeleteObjects":
        return [
            _check(call, account, "DeleteObjectVersion" if o.get("VersionId") else "DeleteObject", o)
            for o in params.get("Objects", [])
        ]
    if call.prefix == "cloudwatch" and call.operation in _CLOUDWATCH_LISTS:
        listed, placeholder = _CLOUDWATCH_LISTS[call.operation]
        if params.get(listed):  # without names it asks about every alarm: not decided here, so refused
            return [_check(call, account, name, {placeholder: item}) for item in params[listed]]
    if call.prefix == "cloudwatch" and call.operation == "PutMetricAlarm" and params.get("Tags"):
        # Creating an alarm with tags also needs cloudwatch:TagResource on it (PutMetricAlarm's reference).
        return [_check(call, account, name), _check(call, account, "TagResource")]
    if call.prefix == "airflow" and call.operation in _AIRFLOW_ROLE:
        return [_check(call, account, name, {"RoleName": _AIRFLOW_ROLE[call.operation]})]
    if call.prefix == "s3" and params.get("VersionId") and _VERSIONED.get(name):
        name = _VERSIONED[name]
    try:
        found = [_check(call, account, name)]
    except NotUnderstoodError:
        members = _ec2_members(call)
        if not members:
            raise
        return [_check(call, account, name, {base: value}) for base, value in members]
    if call.prefix == "s3" and call.operation == "CopyObject":
        source = unquote(str(params.get("CopySource", ""))).lstrip("/")
        bucket, _, key = source.partition("/")
        key, _, version = key.partition("?versionId=")
        found.append(
            _check(call, account, "GetObjectVersion" if version else "GetObject", {"Bucket": bucket, "Key": key})
        )
    return found


def global_context(call: Call, principal: Any, resource: str, keys: dict[str, str | list[str]]) -> RequestContext:
    """The request's condition keys: IAM's global keys, then the check's service keys."""
    now = time.time()
    resource_account = (
        resource.split(":")[4] if resource.count(":") >= 5 and resource.split(":")[4] else principal.account
    )
    values: dict[str, str | list[str]] = {
        "aws:securetransport": "true",  # the emulator stands in for AWS's TLS endpoints
        "aws:currenttime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:epochtime": str(int(now)),
        "aws:requestedregion": call.region,
        "aws:sourceip": call.source_ip,
        "aws:principalarn": principal.role_arn or principal.arn,
        "aws:principalaccount": principal.account,
        "aws:principaltype": {"role": "AssumedRole", "user": "User", "administrator": "Account"}.get(
            principal.kind, "Service"
        ),
        "aws:principalisawsservice": "false",
        "aws:viaawsservice": "false",
        "aws:resourceaccount": resource_account,
        **keys,
    }
    return RequestContext(values, set(values) | KNOWN_KEYS)
