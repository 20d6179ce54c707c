"""LambdaInvokeOperator: the provider's LambdaInvokeFunctionOperator, keeping payloads out of Airflow's records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator

from employee_pipeline_ops import lineage
from employee_pipeline_ops.links import LambdaFunctionLink, persist_link

if TYPE_CHECKING:
    from airflow.sdk import Context


class _SizeInLogs(str):
    """The payload itself for boto3; its size wherever it is formatted into a log line."""

    __slots__ = ()

    def __str__(self) -> str:
        return f"<{len(self.encode())} bytes>"

    __repr__ = __str__


class LambdaInvokeOperator(LambdaInvokeFunctionOperator):
    """
    Invoke a Lambda like ``LambdaInvokeFunctionOperator``, without copying the payload into Airflow.

    The provider logs every payload in full and stores it as a rendered template field; the
    writer's payload is a shard of employee records (personal data, up to ~1.5 MB). Here the log
    says how many bytes were sent, and ``payload`` is not a template field: it only ever comes
    from a mapped upstream XCom, which Airflow does not template anyway. The task links to the
    function. With the OpenLineage provider, the task reports the object the function says it wrote
    (the writer's ``{"bucket": ..., "key": ...}``) as its output. Every argument is
    ``LambdaInvokeFunctionOperator``'s.
    """

    template_fields = tuple(f for f in LambdaInvokeFunctionOperator.template_fields if f != "payload")
    operator_extra_links = (LambdaFunctionLink(),)

    def execute(self, context: Context) -> Any:
        persist_link(LambdaFunctionLink, context, self, function_name=self.function_name)
        if isinstance(self.payload, str):
            self.payload = _SizeInLogs(self.payload)
        self._lineage_result = super().execute(context)
        return self._lineage_result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the object the function reports it wrote (none for the generator, whose result is data)."""
        return lineage.operator_lineage(outputs=lineage.lambda_written(getattr(self, "_lineage_result", None)))
