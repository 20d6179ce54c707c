"""storage.put_if_changed: what it did to the object, as one of three named outcomes."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from infra.session import AwsTarget
from infra.storage import Upload, put_if_changed

WHERE = {"Bucket": "b", "Key": "k"}
BODY, SHA = b"body", "f" * 64


@pytest.fixture
def target() -> AwsTarget:
    return AwsTarget(region="us-east-1", endpoint_url="http://127.0.0.1:9", _account="123456789012")


def _head(stub: Stubber, sha: str | None) -> None:
    if sha is None:
        stub.add_client_error("head_object", service_error_code="404", http_status_code=404, expected_params=WHERE)
    else:
        stub.add_response("head_object", {"Metadata": {"sha256": sha}, "VersionId": "v1"}, WHERE)


@pytest.mark.parametrize(("have", "upload"), [(None, Upload.NEW), ("0" * 64, Upload.REPLACED)])
def test_other_bytes_are_uploaded(target: AwsTarget, have: str | None, upload: Upload) -> None:
    s3 = target.client("s3")
    with Stubber(s3) as stub:
        _head(stub, have)
        stub.add_response("put_object", {"VersionId": "v2"}, {**WHERE, "Body": BODY, "Metadata": {"sha256": SHA}})
        assert put_if_changed(s3, "b", "k", BODY, SHA) == (upload, "v2")
        stub.assert_no_pending_responses()


def test_the_same_bytes_are_not(target: AwsTarget) -> None:
    s3 = target.client("s3")
    with Stubber(s3) as stub:
        _head(stub, SHA)
        assert put_if_changed(s3, "b", "k", BODY, SHA) == (Upload.SAME, "v1")


@pytest.mark.parametrize(("have", "upload"), [(None, Upload.NEW), ("0" * 64, Upload.REPLACED), (SHA, Upload.SAME)])
def test_a_plan_says_what_it_would_do_with_a_client_that_only_reads(
    target: AwsTarget, have: str | None, upload: Upload
) -> None:
    s3 = target.reader().client("s3")
    with Stubber(s3) as stub:
        _head(stub, have)
        assert put_if_changed(s3, "b", "k", BODY, SHA, apply=False)[0] is upload
