"""AWS console links to what the pipeline's tasks touch, in the amazon provider's style.

A task persists a link's parts to XCom while it runs (``persist_link``); when the task process
ends, Airflow formats the URL and stores it under the link's ``xcom_key``, which is all the API
server reads to show the link. So nothing is computed at DAG parse time, and the links need no
plugin registration. Registered through an ``AirflowPlugin``, a link would replace that lookup in
the API server with ``BaseAwsLink.get_link``, which reads XCom through the task runner and so
returns no URL there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink

if TYPE_CHECKING:
    from airflow.sdk import Context


class _QuotedConsoleLink(BaseAwsLink):
    """A console link whose ``quoted_fields`` are URL-quoted into it; without one of them, no link."""

    quoted_fields: ClassVar[tuple[str, ...]] = ()

    def format_link(self, **kwargs: Any) -> str:
        for field in self.quoted_fields:
            if kwargs.get(field) is None:
                return ""
            kwargs[field] = quote(str(kwargs[field]), safe="/")
        return super().format_link(**kwargs)


class _S3PrefixLink(_QuotedConsoleLink):
    format_str = BASE_AWS_CONSOLE_LINK + "/s3/buckets/{bucket_name}?region={region_name}&prefix={prefix}"
    quoted_fields = ("bucket_name", "prefix")


class S3BatchObjectsLink(_S3PrefixLink):
    """The S3 prefix holding a batch's raw shard objects."""

    name = "S3 Batch Objects"
    key = "s3_batch_objects"


class S3QuarantineLink(_S3PrefixLink):
    """The S3 prefix holding a batch's quarantined rows."""

    name = "S3 Quarantine"
    key = "s3_quarantine"


class DynamoDBTableLink(_QuotedConsoleLink):
    """A DynamoDB table."""

    name = "DynamoDB Table"
    key = "dynamodb_table"
    format_str = BASE_AWS_CONSOLE_LINK + "/dynamodbv2/home?region={region_name}#table?name={table_name}"
    quoted_fields = ("table_name",)


class LambdaFunctionLink(_QuotedConsoleLink):
    """A Lambda function."""

    name = "Lambda Function"
    key = "lambda_function"
    format_str = BASE_AWS_CONSOLE_LINK + "/lambda/home?region={region_name}#/functions/{function_name}"
    quoted_fields = ("function_name",)


def persist_link(link: type[BaseAwsLink], context: Context, operator: Any, **parts: Any) -> None:
    """Store ``link``'s parts for this task instance, in the region and partition of ``operator.hook``.

    A link is a convenience: when the hook cannot tell its region, the task goes on without it.
    """
    try:
        region_name, aws_partition = operator.hook.conn_region_name, operator.hook.conn_partition
    except Exception as err:
        operator.log.warning("No %s link: %s", link.name, err)
        return
    link.persist(context=context, operator=operator, region_name=region_name, aws_partition=aws_partition, **parts)
