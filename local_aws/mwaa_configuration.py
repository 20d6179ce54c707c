"""An Amazon MWAA environment's configuration in the local AWS: its members, MWAA's defaults, and
what AWS checks of it beyond the constraints of botocore's model (``mwaa_api`` checks those).

The source bucket is checked in moto's S3 as AWS checks it: it exists, in the environment's region,
with versioning enabled, and each of plugins, requirements and startup script names an object that
exists there (the given ``...S3ObjectVersion``, else the current version).
"""

from __future__ import annotations

import json
from typing import Any

from local_aws import ROOT
from local_aws.mwaa_errors import ValidationException

# What MWAA creates when CreateEnvironment names none (its latest Airflow, the one this project runs).
DEFAULT_AIRFLOW_VERSION = "3.3.1"
# The classes MWAA offers (botocore's model gives EnvironmentClass no enum). Their one list is the one
# infra/prices.json prices, read as data: the local AWS imports nothing of infra.
PRICES_FILE = ROOT / "infra" / "prices.json"
ENVIRONMENT_CLASSES = tuple(json.loads(PRICES_FILE.read_text())["mwaa_classes"]["classes"])
MAX_TAGS = 50
# Members of CreateEnvironment that GetEnvironment returns as they were given (a unit test holds
# this to botocore's model); UpdateEnvironment changes those it shares.
CONFIG_MEMBERS = (
    "ExecutionRoleArn",
    "SourceBucketArn",
    "DagS3Path",
    "NetworkConfiguration",
    "PluginsS3Path",
    "PluginsS3ObjectVersion",
    "RequirementsS3Path",
    "RequirementsS3ObjectVersion",
    "StartupScriptS3Path",
    "StartupScriptS3ObjectVersion",
    "AirflowConfigurationOptions",
    "EnvironmentClass",
    "MaxWorkers",
    "KmsKey",
    "AirflowVersion",
    "LoggingConfiguration",
    "WeeklyMaintenanceWindowStart",
    "WebserverAccessMode",
    "MinWorkers",
    "Schedulers",
    "EndpointManagement",
    "MinWebservers",
    "MaxWebservers",
)
S3_FILES = (
    ("PluginsS3Path", "PluginsS3ObjectVersion"),
    ("RequirementsS3Path", "RequirementsS3ObjectVersion"),
    ("StartupScriptS3Path", "StartupScriptS3ObjectVersion"),
)
# LoggingConfiguration module -> the suffix of its CloudWatch log group, airflow-<Name>-<suffix>.
LOG_MODULES = {
    "DagProcessingLogs": "DAGProcessing",
    "SchedulerLogs": "Scheduler",
    "WebserverLogs": "WebServer",
    "WorkerLogs": "Worker",
    "TaskLogs": "Task",
}


def partition(region: str) -> str:
    """The AWS partition of ``region``, as moto names it."""
    from moto.utilities.utils import get_partition

    return get_partition(region)


def with_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with MWAA's default for each member it leaves out."""
    micro = config.get("EnvironmentClass") == "mw1.micro"
    defaults = {
        "AirflowVersion": DEFAULT_AIRFLOW_VERSION,
        "EnvironmentClass": "mw1.small",
        "MaxWorkers": 1 if micro else 10,
        "MinWorkers": 1,
        "Schedulers": 1 if micro else 2,
        "MaxWebservers": 1 if micro else 2,
        "MinWebservers": 1 if micro else 2,
        "WebserverAccessMode": "PRIVATE_ONLY",
        "EndpointManagement": "SERVICE",
        "AirflowConfigurationOptions": {},
    }
    return {**defaults, **config}


def logging_configuration(
    account_id: str, region: str, name: str, current: dict[str, Any], given: dict[str, Any]
) -> dict[str, Any]:
    """The output LoggingConfiguration: each module's setting, with its log group when enabled."""
    logging = {}
    for module, suffix in LOG_MODULES.items():
        setting = {"Enabled": False, "LogLevel": "INFO", **current.get(module, {}), **given.get(module, {})}
        setting.pop("CloudWatchLogGroupArn", None)
        if setting["Enabled"]:
            setting["CloudWatchLogGroupArn"] = (
                f"arn:{partition(region)}:logs:{region}:{account_id}:log-group:airflow-{name}-{suffix}"
            )
        logging[module] = setting
    return logging


def check_tags(tags: dict[str, str]) -> None:
    """Raise ValidationException for more tags than an environment can have, or a reserved key."""
    if len(tags) > MAX_TAGS:
        raise ValidationException(f"An environment can have at most {MAX_TAGS} tags, not {len(tags)}.")
    reserved = sorted(key for key in tags if key.lower().startswith("aws:"))
    if reserved:
        raise ValidationException(f"Tag keys starting with aws: are reserved: {', '.join(reserved)}.")


def check(config: dict[str, Any], account_id: str, region: str) -> None:
    """What AWS checks of a configuration beyond the model's constraints."""
    if config["EnvironmentClass"] not in ENVIRONMENT_CLASSES:
        raise ValidationException(
            f"EnvironmentClass {config['EnvironmentClass']} is not one of {', '.join(ENVIRONMENT_CLASSES)}."
        )
    for low, high in (("MinWorkers", "MaxWorkers"), ("MinWebservers", "MaxWebservers")):
        if config[low] > config[high]:
            raise ValidationException(f"{low} ({config[low]}) must not exceed {high} ({config[high]}).")
    _check_source(config, account_id, region)


def _check_source(config: dict[str, Any], account_id: str, region: str) -> None:
    """The source bucket and the object (versions) the configuration names, in moto's S3."""
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import FakeKey, s3_backends

    bucket_arn = config["SourceBucketArn"]
    bucket_name = bucket_arn.rpartition(":")[2]
    try:
        bucket = s3_backends[account_id][partition(region)].get_bucket(bucket_name)
    except MissingBucket:
        raise ValidationException(f"SourceBucketArn {bucket_arn}: the bucket does not exist.") from None
    if bucket.region_name != region:
        raise ValidationException(
            f"SourceBucketArn {bucket_arn}: the bucket is in {bucket.region_name}, the environment in {region}."
        )
    if not bucket.is_versioned:
        raise ValidationException(f"SourceBucketArn {bucket_arn}: the bucket must have versioning enabled.")
    for path_member, version_member in S3_FILES:
        path, version = config.get(path_member), config.get(version_member)
        if path is None:
            if version is not None:
                raise ValidationException(f"{version_member} {version} is given without {path_member}.")
            continue
        versions = bucket.keys.getlist(path, default=[])
        if version is None:
            found = bool(versions) and isinstance(versions[-1], FakeKey)  # not a delete marker
            missing = f"{path_member} s3://{bucket_name}/{path} does not exist."
        else:
            found = any(isinstance(v, FakeKey) and str(v.version_id) == version for v in versions)
            missing = f"{version_member} {version} of {path_member} s3://{bucket_name}/{path} does not exist."
        if not found:
            raise ValidationException(missing)
