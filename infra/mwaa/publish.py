"""Publish the bundle to an MWAA environment: upload what changed, point the environment at it, wait.

Each object carries its sha256 as metadata, so a file whose bytes are already there is not
uploaded again; ``dags/`` is synced (keys the bundle no longer has are deleted). The environment
is updated only when a referenced object version, a source path or a needed Airflow configuration
option differs from what it has; then the command waits for it to be AVAILABLE again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from employee_pipeline.config import PipelineNames
from infra.mwaa.bundle import PLUGINS_ZIP, REQUIREMENTS_TXT, SOURCE_BUCKET_LAYOUT, STARTUP_SH, bundle_contents
from infra.mwaa.options import configuration_options, option_key
from infra.session import AwsTarget, if_exists
from infra.storage import PUBLIC_ACCESS_BLOCK, Upload, put_if_changed

# Which environment setting names the object version of each single-object artifact.
VERSION_SETTINGS = {
    PLUGINS_ZIP: "PluginsS3ObjectVersion",
    REQUIREMENTS_TXT: "RequirementsS3ObjectVersion",
    STARTUP_SH: "StartupScriptS3ObjectVersion",
}
WAIT_TIMEOUT_S = 3600  # MWAA updates take 20-30 minutes
POLL_S = 30.0


class PublishError(RuntimeError):
    """The environment or its source bucket cannot take the bundle; the message names which and why."""


@dataclass
class PublishResult:
    environment: str
    source_bucket: str
    artifacts: dict[str, str] = field(default_factory=dict)  # object key -> uploaded | unchanged | deleted
    update: dict[str, Any] = field(default_factory=dict)  # the UpdateEnvironment changes ({} = no update)
    status: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "source_bucket": self.source_bucket,
            "artifacts": self.artifacts,
            "updated": bool(self.update),
            "update": self.update,
            "status": self.status,
        }


def environment_of(mwaa: Any, name: str) -> dict[str, Any]:
    found = if_exists(lambda: mwaa.get_environment(Name=name), ("ResourceNotFoundException",))
    if found is None:
        raise PublishError(f"MWAA environment {name} does not exist")
    return found["Environment"]


def _check_bucket(s3: Any, bucket: str) -> None:
    """MWAA reads object versions from a private bucket: refuse one without versioning or public access block."""
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        raise PublishError(f"source bucket {bucket} has no versioning enabled (MWAA needs object versions)")
    block = if_exists(lambda: s3.get_public_access_block(Bucket=bucket), ("NoSuchPublicAccessBlockConfiguration",))
    settings = (block or {}).get("PublicAccessBlockConfiguration", {})
    off = [setting for setting in PUBLIC_ACCESS_BLOCK if not settings.get(setting)]
    if off:
        raise PublishError(f"source bucket {bucket} does not block public access ({', '.join(off)} off)")


def _stale_dags(s3: Any, bucket: str, wanted: set[str]) -> list[str]:
    prefix = SOURCE_BUCKET_LAYOUT.dags.rstrip("/") + "/"
    keys: list[str] = []

    def listed() -> None:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(entry["Key"] for entry in page.get("Contents", []))

    if_exists(listed, ("NoSuchBucket",))  # a plan may look into a bucket deploy has yet to make
    return sorted(set(keys) - wanted)


def upload_bundle(
    s3: Any, bucket: str, names: PipelineNames, say: Callable[[str], None], *, apply: bool = True
) -> tuple[dict[str, str], dict[str, str | None]]:
    """Upload what changed of the bundle for ``names`` and sync ``dags/``: (object key -> uploaded |
    unchanged | deleted, version setting -> the object version, None where ``apply=False`` would upload)."""
    contents = bundle_contents(names)
    objects = {SOURCE_BUCKET_LAYOUT.key(path): path for path in contents}  # object key -> bundle path
    artifacts: dict[str, str] = {}
    versions: dict[str, str | None] = {}
    for key, path in objects.items():
        body = contents[path]
        upload, version = put_if_changed(s3, bucket, key, body, hashlib.sha256(body).hexdigest(), apply=apply)
        artifacts[key] = "unchanged" if upload is Upload.SAME else "uploaded"
        say(f"  {artifacts[key]:<9} s3://{bucket}/{key}")
        if path in VERSION_SETTINGS:
            versions[VERSION_SETTINGS[path]] = version
    for key in _stale_dags(s3, bucket, set(objects)):
        if apply:
            s3.delete_object(Bucket=bucket, Key=key)
        artifacts[key] = "deleted"
        say(f"  deleted   s3://{bucket}/{key}")
    return artifacts, versions


def merged_options(current: dict[str, str], names: PipelineNames) -> dict[str, str]:
    """The environment's Airflow configuration options with those the package needs set."""
    needed = configuration_options(names)
    # Options set otherwise (by hand) stay; an option needed here under another spelling (an earlier
    # release's ``common.io.…``) is replaced by its documented key.
    kept = {
        key: value for key, value in current.items() if key in needed or "." not in key or option_key(key) not in needed
    }
    return {**kept, **needed}


def wait_available(
    mwaa: Any, name: str, say: Callable[[str], None], timeout_s: float, poll_s: float, what: str = "update"
) -> str:
    """Poll until ``name`` is AVAILABLE (a line per poll); PublishError with ``LastUpdate.Error`` if ``what``
    (the update, the creation) ends in a failed state."""
    started = time.monotonic()
    while True:
        environment = environment_of(mwaa, name)
        status = environment["Status"]
        say(f"  environment {name}: {status} ({time.monotonic() - started:.0f}s)")
        if status == "AVAILABLE":
            return status
        if status in ("UPDATE_FAILED", "UNAVAILABLE", "DELETING", "DELETED", "CREATE_FAILED"):
            error = environment.get("LastUpdate", {}).get("Error", {})
            detail = f": {error.get('ErrorCode')}: {error.get('ErrorMessage')}" if error else ""
            raise PublishError(f"MWAA environment {name} ended the {what} {status}{detail}")
        if time.monotonic() - started > timeout_s:
            raise PublishError(f"MWAA environment {name} is still {status} after {timeout_s:.0f}s")
        time.sleep(poll_s)


def publish(
    target: AwsTarget,
    names: PipelineNames,
    environment: str,
    source_bucket: str | None = None,
    say: Callable[[str], None] = print,
    timeout_s: float = WAIT_TIMEOUT_S,
    poll_s: float = POLL_S,
) -> PublishResult:
    """Upload the bundle for ``names`` to ``environment``'s source bucket and update the environment."""
    mwaa, s3 = target.client("mwaa"), target.client("s3")
    current = environment_of(mwaa, environment)
    if current["Status"] != "AVAILABLE":
        raise PublishError(f"MWAA environment {environment} is {current['Status']}, not AVAILABLE: nothing published")
    bucket = source_bucket or current["SourceBucketArn"].split(":::", 1)[1]
    _check_bucket(s3, bucket)
    result = PublishResult(environment=environment, source_bucket=bucket)
    result.artifacts, versions = upload_bundle(s3, bucket, names, say)
    options = merged_options(current.get("AirflowConfigurationOptions", {}), names)
    wanted: dict[str, Any] = {**SOURCE_BUCKET_LAYOUT.environment_paths(), **versions}
    result.update = {key: value for key, value in wanted.items() if current.get(key) != value}
    if options != current.get("AirflowConfigurationOptions", {}):
        result.update["AirflowConfigurationOptions"] = options
    if not result.update:
        say(f"environment {environment} already runs this bundle: no update")
        result.status = current["Status"]
        return result
    say(f"updating environment {environment}: {', '.join(sorted(result.update))}")
    mwaa.update_environment(Name=environment, **result.update)
    result.status = wait_available(mwaa, environment, say, timeout_s, poll_s)
    return result
