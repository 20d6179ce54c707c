"""An MWAA environment's source bucket read as MWAA reads it: as the environment's execution role.

MWAA's service assumes the execution role (``airflow.amazonaws.com``, trust policy checked) and
copies the objects under ``DagS3Path`` (their current versions) and ``plugins.zip``,
``requirements.txt`` and ``startup.sh`` at the versions the environment names. Every read goes
through the local AWS's IAM like any other request, so a role that may not read the bucket makes
the create or update fail with the refusal as its reason (``SourceUnreadable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from local_aws.mwaa_errors import MwaaError

MWAA_SERVICE = "airflow.amazonaws.com"  # the service that reads the source bucket (not the tasks')
# configuration member of each single object -> its version member and its name in the copy.
SINGLE_OBJECTS = {
    "PluginsS3Path": ("PluginsS3ObjectVersion", "plugins.zip"),
    "RequirementsS3Path": ("RequirementsS3ObjectVersion", "requirements.txt"),
    "StartupScriptS3Path": ("StartupScriptS3ObjectVersion", "startup.sh"),
}


class SourceUnreadable(MwaaError):
    code = "SourceUnreadable"


@dataclass(frozen=True)
class Source:
    """The environment's files, copied to a local folder."""

    dags: Path
    plugins_zip: Path | None
    requirements_txt: str
    startup_script: Path | None


def role_session(account: str, region: str, role_arn: str) -> dict[str, str]:
    """The execution role's session as MWAA's service assumes it: boto3 client keyword arguments."""
    from local_aws import iam_principals

    try:
        credentials = iam_principals.SERVICE_SESSIONS.credentials(account, region, role_arn, MWAA_SERVICE, None)
    except iam_principals.CredentialsError as err:
        raise SourceUnreadable(f"MWAA cannot assume the execution role {role_arn}: {err}") from None
    return {
        "aws_access_key_id": credentials.access_key_id,
        "aws_secret_access_key": credentials.secret_access_key,
        "aws_session_token": credentials.session_token,
    }


def fetch(config: dict[str, Any], account: str, region: str, endpoint_url: str, folder: Path) -> Source:
    """Copy the environment's files from its source bucket into ``folder``, reading as its execution role."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    bucket = config["SourceBucketArn"].rpartition(":")[2]
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(retries={"max_attempts": 2}),
        **role_session(account, region, config["ExecutionRoleArn"]),
    )
    prefix = config["DagS3Path"].strip("/")
    dags = folder / "dags"
    dags.mkdir(parents=True)
    where = f"s3://{bucket}/{prefix}/"
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
            for entry in page.get("Contents", []):
                relative = PurePosixPath(entry["Key"][len(prefix) + 1 :])
                if not relative.parts or ".." in relative.parts or entry["Key"].endswith("/"):
                    continue
                target = dags.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                where = f"s3://{bucket}/{entry['Key']}"
                target.write_bytes(s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
        copied: dict[str, Path | None] = {}
        for path_member, (version_member, name) in SINGLE_OBJECTS.items():
            key, version = config.get(path_member), config.get(version_member)
            copied[name] = None
            if key:
                where = f"s3://{bucket}/{key}" + (f" (version {version})" if version else "")
                extra = {"VersionId": version} if version else {}
                body = s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
                copied[name] = folder / name
                copied[name].write_bytes(body)
    except ClientError as err:
        error = err.response.get("Error", {})
        raise SourceUnreadable(
            f"Reading {where} as {config['ExecutionRoleArn']} failed: {error.get('Code')}: {error.get('Message')}"
        ) from None
    requirements = copied["requirements.txt"]
    return Source(
        dags=dags,
        plugins_zip=copied["plugins.zip"],
        requirements_txt=requirements.read_text() if requirements else "",
        startup_script=copied["startup.sh"],
    )
