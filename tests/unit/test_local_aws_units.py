"""Single functions of the local AWS: error extraction and bucket-policy conditions."""

from __future__ import annotations

import json
import socket

import pytest

from infra.local_aws import server
from infra.local_aws.bucket_policy import bucket_permission
from infra.local_aws.glue_executor import error_message


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
