"""S3: hardened buckets and the uploaded artifacts."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from infra import tagging
from infra.actions import ABSENT, DELETED, Action, Kind, outcome
from infra.packaging import Artifact
from infra.session import AwsTarget, error_code, if_exists

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# Old versions of overwritten or deleted objects are kept this long, then expire.
NONCURRENT_VERSION_DAYS = 30
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]}


def tls_only_policy(target: AwsTarget, bucket: str) -> dict[str, Any]:
    bucket_arn = f"arn:{target.partition}:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError as err:
        if error_code(err) in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise


def _head(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    # A plan may look into a bucket that does not exist yet.
    return if_exists(lambda: s3.head_object(Bucket=bucket, Key=key), ("404", "NoSuchKey", "NotFound", "NoSuchBucket"))


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    return _head(s3, bucket, key) is not None


def lifecycle_rules(expire: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Every bucket is versioned: overwritten and deleted objects' old versions expire after
    NONCURRENT_VERSION_DAYS (and a delete marker left alone is removed). Then one rule per prefix of
    ``expire``: current and noncurrent versions expire after the given days."""
    return [
        {
            "ID": "expire-noncurrent-versions",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "Expiration": {"ExpiredObjectDeleteMarker": True},
            "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_VERSION_DAYS},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
    ] + [
        {
            "ID": f"expire-{prefix.strip('/').replace('/', '-')}",
            "Filter": {"Prefix": prefix},
            "Status": "Enabled",
            "Expiration": {"Days": days},
            "NoncurrentVersionExpiration": {"NoncurrentDays": days},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
        for prefix, days in sorted((expire or {}).items())
    ]


def ensure_bucket(
    target: AwsTarget,
    bucket: str,
    expire: dict[str, int] | None = None,
    *,
    tags: dict[str, str] | None = None,
    apply: bool = True,
) -> Action:
    """Create the bucket if needed and converge its four protections, its ``tags``, the expiry of noncurrent
    versions and of ``expire``'s prefixes (prefix -> days). ``apply=False``: only say what would change."""
    s3 = target.client("s3")
    existed = bucket_exists(s3, bucket)
    if not existed and not apply:
        return outcome(Kind.S3_BUCKET, bucket, False, [])
    if not existed:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if target.region_name != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": target.region_name}
        s3.create_bucket(**kwargs)
    changes = []
    block = if_exists(lambda: s3.get_public_access_block(Bucket=bucket), ("NoSuchPublicAccessBlockConfiguration",))
    if not block or block["PublicAccessBlockConfiguration"] != PUBLIC_ACCESS_BLOCK:
        if apply:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
        changes.append("public access block")
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        if apply:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        changes.append("versioning")
    encryption = if_exists(
        lambda: s3.get_bucket_encryption(Bucket=bucket), ("ServerSideEncryptionConfigurationNotFoundError",)
    )
    if not encryption or encryption["ServerSideEncryptionConfiguration"] != ENCRYPTION:
        if apply:
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=ENCRYPTION)
        changes.append("encryption")
    policy = if_exists(lambda: s3.get_bucket_policy(Bucket=bucket), ("NoSuchBucketPolicy",))
    wanted = tls_only_policy(target, bucket)
    if not policy or json.loads(policy["Policy"]) != wanted:
        if apply:
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(wanted))
        changes.append("tls-only policy")
    wanted_rules = lifecycle_rules(expire)
    current = if_exists(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket), ("NoSuchLifecycleConfiguration",))
    if not current or current["Rules"] != wanted_rules:
        if apply:
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": wanted_rules})
        changes.append("lifecycle")
    tag_set = if_exists(lambda: s3.get_bucket_tagging(Bucket=bucket), ("NoSuchTagSet",))
    have = tagging.from_list(tag_set["TagSet"]) if tag_set else {}
    if tags and tagging.missing(have, tags):
        # put_bucket_tagging replaces the whole set: keep the tags others put there.
        if apply:
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tagging.as_list({**have, **tags})})
        changes.append(tagging.CHANGE)
    return outcome(Kind.S3_BUCKET, bucket, existed, changes)


class Upload(Enum):
    """What ``put_if_changed`` did to the object (with ``apply=False``, what it would do)."""

    SAME = "same"  # the object holds these bytes already: nothing uploaded
    NEW = "new"  # no object under the key
    REPLACED = "replaced"  # an object with other bytes


def put_if_changed(
    s3: Any, bucket: str, key: str, body: bytes, sha256_hex: str, *, apply: bool = True
) -> tuple[Upload, str | None]:
    """Upload ``body`` unless the object already holds the same bytes (its ``sha256`` metadata).

    Returns what it did and the object's version id (None when ``apply=False`` and the bytes differ).
    """
    head = _head(s3, bucket, key)
    if head and head.get("Metadata", {}).get("sha256") == sha256_hex:
        return Upload.SAME, head.get("VersionId")
    upload = Upload.NEW if head is None else Upload.REPLACED
    if not apply:
        return upload, None
    put = s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"sha256": sha256_hex})
    return upload, put.get("VersionId")


def ensure_artifact(target: AwsTarget, bucket: str, key: str, artifact: Artifact, *, apply: bool = True) -> Action:
    """Upload ``artifact`` unless the object already holds the same bytes."""
    upload, _ = put_if_changed(target.client("s3"), bucket, key, artifact.body, artifact.sha256_hex, apply=apply)
    changes = [] if upload is Upload.SAME else ["content"]
    return outcome(Kind.S3_ARTIFACT, f"s3://{bucket}/{key}", upload is not Upload.NEW, changes)


def destroy_bucket(target: AwsTarget, bucket: str) -> Action:
    """Delete every object version and delete marker, then the bucket."""
    s3 = target.client("s3")
    if not bucket_exists(s3, bucket):
        return Action(Kind.S3_BUCKET, bucket, ABSENT)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(doomed), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True})
    s3.delete_bucket(Bucket=bucket)
    return Action(Kind.S3_BUCKET, bucket, DELETED)
