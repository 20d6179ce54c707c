"""The local AWS's IAM: conditions, statements, the checks a request needs, and AWS-shaped refusals."""

from __future__ import annotations

import io
import json
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import create_parser

from local_aws import iam_catalog, iam_requests
from local_aws.iam_conditions import NotUnderstoodError, RequestContext, conditions_hold
from local_aws.iam_gate import error_response
from local_aws.iam_policy import Policy, Principal, decide

ACCOUNT = "123456789012"
ROLE = Principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s", ACCOUNT, "role", role_arn=f"arn:aws:iam::{ACCOUNT}:role/r")
KNOWN = {"s3:prefix", "aws:sourceaccount", "aws:resourceaccount", "kms:viaservice", "aws:username"}


def _context(**values: str) -> RequestContext:
    return RequestContext({k.replace("__", ":").lower(): v for k, v in values.items()}, set(KNOWN))


@pytest.mark.parametrize(
    ("condition", "values", "holds"),
    [
        ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, {"aws__sourceaccount": ACCOUNT}, True),
        ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, {"aws__sourceaccount": "999"}, False),
        ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, {}, False),  # a missing key does not match
        ({"StringNotEquals": {"aws:ResourceAccount": ACCOUNT}}, {}, True),  # ... except for negated operators
        ({"StringNotEquals": {"aws:ResourceAccount": ACCOUNT}}, {"aws__resourceaccount": ACCOUNT}, False),
        ({"StringLike": {"s3:prefix": ["raw/*", "quarantine/*"]}}, {"s3__prefix": "raw/dt=1/"}, True),
        ({"StringLike": {"s3:prefix": ["raw/*"]}}, {"s3__prefix": "manifests/"}, False),
        ({"StringLike": {"s3:prefix": ["raw/*"]}}, {}, False),
        ({"StringLikeIfExists": {"s3:prefix": ["raw/*"]}}, {}, True),
        ({"Null": {"s3:prefix": "true"}}, {}, True),
        ({"Null": {"s3:prefix": "false"}}, {}, False),
        (
            {"StringLike": {"kms:ViaService": "sqs.*.amazonaws.com"}},
            {"kms__viaservice": "sqs.eu-west-1.amazonaws.com"},
            True,
        ),
        # Every operator and every key must hold.
        (
            {"StringLike": {"kms:ViaService": "sqs.*"}, "StringNotEquals": {"aws:ResourceAccount": ACCOUNT}},
            {"kms__viaservice": "sqs.x", "aws__resourceaccount": ACCOUNT},
            False,
        ),
        ({"StringEquals": {"s3:prefix": "${aws:username}/"}}, {"s3__prefix": "ann/", "aws__username": "ann"}, True),
    ],
)
def test_conditions_hold_as_iam_evaluates_them(condition: dict[str, Any], values: dict[str, str], holds: bool) -> None:
    assert conditions_hold(condition, _context(**values)) is holds


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"dynamodb:LeadingKeys": "x"}},  # a key the local AWS does not compute
        {"StringEqualsSometimes": {"s3:prefix": "x"}},  # no such operator
    ],
)
def test_what_the_evaluator_does_not_understand_is_refused_with_its_name(condition: dict[str, Any]) -> None:
    with pytest.raises(NotUnderstoodError, match=r"LeadingKeys|StringEqualsSometimes"):
        conditions_hold(condition, _context(s3__prefix="x"))


def _policy(*statements: dict[str, Any], resource_based: bool = False) -> Policy:
    return Policy("test", {"Version": "2012-10-17", "Statement": list(statements)}, resource_based)


def _allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_an_explicit_deny_wins_over_any_allow() -> None:
    everything = _allow("*", "*")
    deny = {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*", "Sid": "NoDelete"}
    decision = decide(ROLE, "s3:DeleteObject", "arn:aws:s3:::b/k", _context(), [_policy(everything, deny)], [])
    assert not decision.allowed
    assert decision.statement == "NoDelete"
    assert "explicit deny in an identity-based policy" in decision.reason


def test_nothing_allowed_is_refused_with_aws_wording() -> None:
    decision = decide(ROLE, "dynamodb:DescribeTable", "arn:aws:dynamodb:r:a:table/t", _context(), [], [])
    assert not decision.allowed
    assert decision.reason == "because no identity-based policy allows the dynamodb:DescribeTable action"


@pytest.mark.parametrize(
    ("statement", "action", "resource", "allowed"),
    [
        (_allow("S3:getobject", "arn:aws:s3:::b/*"), "s3:GetObject", "arn:aws:s3:::b/k", True),  # actions ignore case
        (_allow("s3:Get*", "arn:aws:s3:::b/*"), "s3:GetObject", "arn:aws:s3:::B/k", False),  # resources do not
        (_allow("s3:*", "arn:aws:s3:::b/raw/*"), "s3:PutObject", "arn:aws:s3:::b/manifests/m", False),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "s3:PutObject", "arn:aws:s3:::b/k", True),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "iam:CreateUser", "arn:aws:iam::a:user/u", False),
        (
            {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/*"},
            "s3:GetObject",
            "arn:aws:s3:::c/k",
            True,
        ),
        (
            {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/*"},
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            False,
        ),
        (
            _allow("dynamodb:Query", "arn:aws:dynamodb:r:a:table/t"),
            "dynamodb:Query",
            "arn:aws:dynamodb:r:a:table/t/index/i",
            False,
        ),
    ],
)
def test_statements_match_actions_and_resources(
    statement: dict[str, Any], action: str, resource: str, allowed: bool
) -> None:
    assert decide(ROLE, action, resource, _context(), [_policy(statement)], []).allowed is allowed


def test_a_resource_policy_grants_only_the_principals_it_names_and_denies_everyone_it_names() -> None:
    grant = _policy(
        {**_allow("s3:GetObject", "arn:aws:s3:::b/*"), "Principal": {"AWS": ROLE.role_arn}}, resource_based=True
    )
    assert decide(ROLE, "s3:GetObject", "arn:aws:s3:::b/k", _context(), [], [grant]).allowed
    other = Principal(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/o/s", ACCOUNT, "role", role_arn=f"arn:aws:iam::{ACCOUNT}:role/o"
    )
    assert not decide(other, "s3:GetObject", "arn:aws:s3:::b/k", _context(), [], [grant]).allowed
    # Naming only the account delegates to the identity's policies: no grant by itself.
    account = _policy(
        {**_allow("s3:GetObject", "arn:aws:s3:::b/*"), "Principal": {"AWS": ACCOUNT}}, resource_based=True
    )
    assert not decide(ROLE, "s3:GetObject", "arn:aws:s3:::b/k", _context(), [], [account]).allowed
    tls = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::b/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    insecure = RequestContext({"aws:securetransport": "false"}, {"aws:securetransport"})
    everything = _policy(_allow("*", "*"))
    assert not decide(
        ROLE, "s3:GetObject", "arn:aws:s3:::b/k", insecure, [everything], [_policy(tls, resource_based=True)]
    ).allowed


def test_a_trust_policy_must_allow_the_service_in_this_account() -> None:
    trust = _policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        },
        resource_based=True,
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/r"

    def service(name: str, account: str) -> bool:
        principal = Principal(name, account, "service", service=name)
        context = RequestContext({"aws:sourceaccount": account}, {"aws:sourceaccount"})
        return decide(principal, "sts:AssumeRole", role, context, [], [trust], trust=True).allowed

    assert service("lambda.amazonaws.com", ACCOUNT)
    assert not service("glue.amazonaws.com", ACCOUNT)
    assert not service("lambda.amazonaws.com", "999999999999")
    # An administrator may not assume a role whose trust names only a service.
    admin = Principal(f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "administrator")
    assert not decide(
        admin, "sts:AssumeRole", role, _context(), [_policy(_allow("*", "*"))], [trust], trust=True
    ).allowed


def _environ(method: str, path: str, *, query: str = "", body: bytes = b"", **headers: str) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_HOST": "127.0.0.1:4566",
    }
    environ.update({key: value for key, value in headers.items()})
    return environ


def _signed(service: str) -> str:
    scope = f"testing/20260101/us-east-1/{service}/aws4_request"
    return f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=x"


def _checks(environ: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    call = iam_requests.read_call(environ)
    return [(c.action, c.resource, c.keys) for c in iam_requests.checks(call, ACCOUNT)]


def test_s3_requests_need_s3s_actions_with_their_condition_keys() -> None:
    listing = _environ("GET", "/data", query="list-type=2&prefix=raw%2Fdt%3D1%2F", HTTP_AUTHORIZATION=_signed("s3"))
    assert _checks(listing) == [("s3:ListBucket", "arn:aws:s3:::data", {"s3:prefix": "raw/dt=1/"})]
    head = _environ("HEAD", "/data/raw/a.jsonl", HTTP_AUTHORIZATION=_signed("s3"))
    assert _checks(head) == [("s3:GetObject", "arn:aws:s3:::data/raw/a.jsonl", {})]
    version = _environ("GET", "/data/k", query="versionId=v1", HTTP_AUTHORIZATION=_signed("s3"))
    assert _checks(version)[0][:2] == ("s3:GetObjectVersion", "arn:aws:s3:::data/k")
    body = b"<Delete><Object><Key>raw/a</Key></Object><Object><Key>raw/b</Key></Object></Delete>"
    delete = _environ("POST", "/data", query="delete", body=body, HTTP_AUTHORIZATION=_signed("s3"))
    assert [c[:2] for c in _checks(delete)] == [
        ("s3:DeleteObject", "arn:aws:s3:::data/raw/a"),
        ("s3:DeleteObject", "arn:aws:s3:::data/raw/b"),
    ]
    copy = _environ("PUT", "/data/b", HTTP_AUTHORIZATION=_signed("s3"), HTTP_X_AMZ_COPY_SOURCE="/src/a%20b")
    assert [c[:2] for c in _checks(copy)] == [
        ("s3:PutObject", "arn:aws:s3:::data/b"),
        ("s3:GetObject", "arn:aws:s3:::src/a b"),
    ]


def _json_call(service: str, target: str, body: dict[str, Any]) -> dict[str, Any]:
    return _environ(
        "POST",
        "/",
        body=json.dumps(body).encode(),
        HTTP_AUTHORIZATION=_signed(service),
        HTTP_X_AMZ_TARGET=target,
        CONTENT_TYPE="application/x-amz-json-1.0",
    )


def test_dynamodb_checks_are_per_table_and_per_index() -> None:
    batch = _json_call("dynamodb", "DynamoDB_20120810.BatchWriteItem", {"RequestItems": {"a": [], "b": []}})
    assert [c[:2] for c in _checks(batch)] == [
        ("dynamodb:BatchWriteItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/a"),
        ("dynamodb:BatchWriteItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/b"),
    ]
    query = _json_call("dynamodb", "DynamoDB_20120810.Query", {"TableName": "t", "IndexName": "i"})
    assert _checks(query)[0][:2] == ("dynamodb:Query", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t/index/i")
    table = _json_call("dynamodb", "DynamoDB_20120810.Query", {"TableName": "t"})
    assert _checks(table)[0][:2] == ("dynamodb:Query", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t")


def test_lambda_glue_logs_sns_and_sts_resources() -> None:
    invoke = _environ(
        "POST",
        "/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:gen/invocations",
        HTTP_AUTHORIZATION=_signed("lambda"),
    )
    assert _checks(invoke)[0][:2] == ("lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:gen")
    run = _json_call("glue", "AWSGlue.StartJobRun", {"JobName": "ingest"})
    assert _checks(run)[0][:2] == ("glue:StartJobRun", f"arn:aws:glue:us-east-1:{ACCOUNT}:job/ingest")
    put = _json_call("logs", "Logs_20140328.PutLogEvents", {"logGroupName": "/aws/lambda/f", "logStreamName": "s"})
    assert _checks(put)[0][:2] == (
        "logs:PutLogEvents",
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/f:log-stream:s",
    )
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"
    publish = _environ(
        "POST",
        "/",
        body=f"Action=Publish&TopicArn={topic}&Message=x".encode(),
        HTTP_AUTHORIZATION=_signed("sns"),
        CONTENT_TYPE="application/x-www-form-urlencoded",
    )
    assert _checks(publish)[0][:2] == ("sns:Publish", topic)
    whoami = _environ(
        "POST",
        "/",
        body=b"Action=GetCallerIdentity",
        HTTP_AUTHORIZATION=_signed("sts"),
        CONTENT_TYPE="application/x-www-form-urlencoded",
    )
    assert _checks(whoami) == []  # AWS answers GetCallerIdentity without any permission


def _ec2(body: str) -> dict[str, Any]:
    return _environ(
        "POST",
        "/",
        body=body.encode(),
        HTTP_AUTHORIZATION=_signed("ec2"),
        CONTENT_TYPE="application/x-www-form-urlencoded",
    )


def test_ec2_checks_name_the_resource_made_the_group_given_and_each_member_of_a_list() -> None:
    region = f"arn:aws:ec2:us-east-1:{ACCOUNT}"
    assert _checks(_ec2("Action=AllocateAddress&Domain=vpc"))[0][:2] == (
        "ec2:AllocateAddress",
        f"{region}:elastic-ip/*",
    )
    ingress = _ec2("Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.IpProtocol=-1")
    assert _checks(ingress)[0][:2] == ("ec2:AuthorizeSecurityGroupIngress", f"{region}:security-group/sg-1")
    delete_group = _ec2("Action=DeleteSecurityGroup&GroupId=sg-1")
    assert _checks(delete_group)[0][:2] == ("ec2:DeleteSecurityGroup", f"{region}:security-group/sg-1")
    endpoints = _ec2("Action=DeleteVpcEndpoints&VpcEndpointId.1=vpce-a&VpcEndpointId.2=vpce-b")
    assert [c[:2] for c in _checks(endpoints)] == [
        ("ec2:DeleteVpcEndpoints", f"{region}:vpc-endpoint/vpce-a"),
        ("ec2:DeleteVpcEndpoints", f"{region}:vpc-endpoint/vpce-b"),
    ]


def test_every_action_the_tables_name_is_in_iams_catalogue() -> None:
    for (prefix, _), action in iam_requests._ACTIONS.items():
        assert iam_catalog.is_action(f"{prefix}:{action}"), f"{prefix}:{action}"
    assert not iam_catalog.is_action("s3:GetBucketLifecycle")


@pytest.mark.parametrize(
    ("service", "operation", "code"),
    [
        ("s3", "GetObject", "AccessDenied"),
        ("dynamodb", "DescribeTable", "AccessDeniedException"),
        ("glue", "StartJobRun", "AccessDeniedException"),
        ("lambda", "Invoke", "AccessDeniedException"),
        ("sns", "Publish", "AuthorizationError"),
        ("iam", "CreateUser", "AccessDenied"),
        ("logs", "PutLogEvents", "AccessDeniedException"),
        ("monitoring", "PutMetricData", "AccessDenied"),
    ],
)
def test_refusals_parse_as_the_services_errors(service: str, operation: str, code: str) -> None:
    model = botocore.session.get_session().get_service_model({"monitoring": "cloudwatch"}.get(service, service))
    status, headers, body = error_response(model.signing_name, "AccessDenied", "User: x is not authorized")
    parser = create_parser(model.resolved_protocol)  # the protocol botocore's client speaks
    response = {"status_code": int(status.split()[0]), "headers": HeadersDict(headers), "body": body}
    parsed = parser.parse(response, model.operation_model(operation).output_shape)
    assert parsed["Error"]["Code"] == code
    assert "is not authorized" in parsed["Error"]["Message"]
