"""Plugs the executors into moto's seams (moto is pinned exactly: see requirements/dev.in)."""

from __future__ import annotations

import inspect
import threading
from typing import Any

from local_aws import (
    alarm_evaluator,
    bucket_policy,
    dynamodb_gsi,
    dynamodb_index,
    faults,
    glue_executor,
    lambda_executor,
)

# The seams, as (qualified name, parameters) in the pinned moto.
SEAMS = {
    "moto.awslambda.models.LambdaFunction._invoke_lambda": ["self", "event"],
    "moto.s3.models.FakeBucket.get_permission": ["self", "action", "resource"],
    "moto.dynamodb.responses.DynamoHandler.batch_write_item": ["self"],
    "moto.glue.models.FakeJob.start_job_run": [
        "self",
        "allocated_capacity",
        "max_capacity",
        "timeout",
        "worker_type",
        "security_configuration",
        "number_of_workers",
        "notification_property",
        "previous_run_id",
        "arguments",
    ],
    # server.serve puts metrics.LocalEndpoints in front of moto's WSGI app.
    "moto.moto_server.werkzeug_app.DomainDispatcherApplication.__call__": ["self", "environ", "start_response"],
    # dynamodb_index: Query narrowed to the queried partition, and the write paths that keep its maps.
    dynamodb_index.TABLE_QUERY: [
        "self",
        "hash_key",
        "range_comparison",
        "range_objs",
        "limit",
        "exclusive_start_key",
        "scan_index_forward",
        "projection_expressions",
        "index_name",
        "consistent_read",
        "filter_expression",
        "hash_key_conditions",
        "range_key_conditions",
        "filter_kwargs",
    ],
    dynamodb_index.TABLE_PUT_ITEM: [
        "self",
        "item_attrs",
        "expected",
        "condition_expression",
        "expression_attribute_names",
        "expression_attribute_values",
        "overwrite",
        "return_values_on_condition_check_failure",
    ],
    dynamodb_index.TABLE_DELETE_ITEM: ["self", "hash_key", "range_key"],
    dynamodb_index.BACKEND_UPDATE_ITEM: [
        "self",
        "table_name",
        "key",
        "update_expression",
        "expression_attribute_names",
        "expression_attribute_values",
        "attribute_updates",
        "expected",
        "condition_expression",
        "return_values_on_condition_check_failure",
    ],
    # dynamodb_gsi: an index deletion takes time, and one index creation or deletion runs at a time.
    dynamodb_gsi.BACKEND_UPDATE_TABLE: [
        "self",
        "name",
        "attr_definitions",
        "global_index",
        "throughput",
        "billing_mode",
        "stream_spec",
        "deletion_protection_enabled",
        "warm_throughput",
    ],
    dynamodb_gsi.TABLE_DESCRIBE: ["self", "base_key"],
    # alarm_evaluator: alarms evaluated after each datapoint and definition, as CloudWatch evaluates them.
    alarm_evaluator.PUT_METRIC_DATA: ["self", "namespace", "metric_data"],
    alarm_evaluator.PUT_METRIC_ALARM: [
        "self",
        "name",
        "namespace",
        "metric_name",
        "comparison_operator",
        "evaluation_periods",
        "period",
        "threshold",
        "statistic",
        "description",
        "dimensions",
        "alarm_actions",
        "metric_data_queries",
        "datapoints_to_alarm",
        "extended_statistic",
        "ok_actions",
        "insufficient_data_actions",
        "unit",
        "actions_enabled",
        "treat_missing_data",
        "evaluate_low_sample_count_percentile",
        "threshold_metric_id",
        "rule",
        "tags",
    ],
}
_installed: dict[str, Any] = {}


class SeamChangedError(RuntimeError):
    """The installed moto no longer has a function the local AWS replaces."""


def _owner(qualified: str) -> tuple[Any, str]:
    """(the class holding the seam, the attribute's name)."""
    module_name, class_name, attribute = qualified.rsplit(".", 2)
    module = __import__(module_name, fromlist=[class_name])
    return getattr(module, class_name), attribute


def _resolve(qualified: str) -> Any:
    owner, attribute = _owner(qualified)
    return getattr(owner, attribute)


def check_seams() -> None:
    """Fail loudly if moto changed a function the executors replace."""
    for qualified, expected in SEAMS.items():
        if qualified in _installed.get("originals", {}):
            continue
        try:
            function = _resolve(qualified)
        except (ImportError, AttributeError) as err:
            raise SeamChangedError(f"{qualified} is gone from the installed moto ({err})") from None
        actual = list(inspect.signature(function).parameters)
        if actual != expected:
            raise SeamChangedError(f"{qualified} changed its parameters: expected {expected}, found {actual}")


def _update_job(self: Any) -> Any:
    """Glue UpdateJob, which moto lacks: replace the job definition's fields."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow

    name = self._get_param("JobName")
    job = self.glue_backend.get_job(name)
    fields = {
        "Role": "role",
        "Command": "command",
        "Description": "description",
        "LogUri": "log_uri",
        "DefaultArguments": "default_arguments",
        "NonOverridableArguments": "non_overridable_arguments",
        "ExecutionProperty": "execution_property",
        "GlueVersion": "glue_version",
        "WorkerType": "worker_type",
        "NumberOfWorkers": "number_of_workers",
        "MaxRetries": "max_retries",
        "Timeout": "timeout",
        "MaxCapacity": "max_capacity",
    }
    for key, value in (self._get_param("JobUpdate") or {}).items():
        if key in fields:
            setattr(job, fields[key], value)
    job.last_modified_on = utcnow()
    return ActionResult({"JobName": name})


def _batch_stop_job_run(self: Any) -> Any:
    """Glue BatchStopJobRun, which moto lacks: terminate the runs' processes."""
    from moto.core.responses import ActionResult

    name = self._get_param("JobName")
    job = self.glue_backend.get_job(name)
    stopped = []
    for run_id in self._get_param("JobRunIds") or []:
        run = next((r for r in job.job_runs if r.job_run_id == run_id), None)
        if run is not None and hasattr(run, "stop"):
            run.stop()
            stopped.append({"JobName": name, "JobRunId": run_id})
    return ActionResult({"SuccessfulSubmissions": stopped, "Errors": []})


def install(endpoint_url: str) -> None:
    """Replace moto's no-op Lambda and Glue execution with real local execution."""
    from moto.awslambda.models import LambdaFunction
    from moto.dynamodb.responses import DynamoHandler
    from moto.glue.models import FakeJob, FakeJobRun
    from moto.glue.responses import GlueResponse
    from moto.s3.models import FakeBucket

    check_seams()
    dynamodb_gsi.delete_seconds()  # a bad LOCAL_AWS_GSI_DELETE_SECONDS fails the start, not an UpdateTable
    lambda_executor.configure(endpoint_url)
    glue_executor.configure(endpoint_url)
    if _installed:
        return
    local_run_class = type("LocalFakeJobRun", (glue_executor.LocalJobRun, FakeJobRun), {})
    original_start = FakeJob.start_job_run

    def start_job_run(self: Any, **kwargs: Any) -> str:
        run_id = original_start(self, **kwargs)  # keeps moto's MaxConcurrentRuns check
        run = next(r for r in self.job_runs if r.job_run_id == run_id)
        # GetJobRuns lists the newest run first on AWS; moto appends.
        self.job_runs.remove(run)
        self.job_runs.insert(0, run)
        run.__class__ = local_run_class
        run.start_local(self.glue_version)
        threading.Thread(target=glue_executor.execute, args=(self, run), name=f"glue-{run_id}", daemon=True).start()
        return run_id

    _installed["originals"] = {
        "moto.awslambda.models.LambdaFunction._invoke_lambda": LambdaFunction._invoke_lambda,
        "moto.glue.models.FakeJob.start_job_run": original_start,
        "moto.s3.models.FakeBucket.get_permission": FakeBucket.get_permission,
        "moto.dynamodb.responses.DynamoHandler.batch_write_item": DynamoHandler.batch_write_item,
    }
    DynamoHandler.batch_write_item = faults.wrap_batch_write_item(DynamoHandler.batch_write_item)
    for module in (dynamodb_index, dynamodb_gsi, alarm_evaluator):
        dynamodb_originals = {name: _resolve(name) for name in module.REPLACED}
        _installed["originals"].update(dynamodb_originals)
        for name, replacement in module.replacements(dynamodb_originals).items():
            owner, attribute = _owner(name)
            setattr(owner, attribute, replacement)
    FakeBucket.get_permission = bucket_policy.bucket_permission
    LambdaFunction._invoke_lambda = lambda_executor.invoke_lambda
    FakeJob.start_job_run = start_job_run
    GlueResponse.update_job = _update_job
    GlueResponse.batch_stop_job_run = _batch_stop_job_run
