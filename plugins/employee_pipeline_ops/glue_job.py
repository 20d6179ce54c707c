"""GlueJobRunOperator: the provider's GlueJobOperator, failing with the job run's own error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.sdk.exceptions import AirflowException

if TYPE_CHECKING:
    from airflow.sdk import Context


class GlueJobRunFailedError(AirflowException):
    """A Glue job run ended FAILED, TIMEOUT or STOPPED; the message holds its ErrorMessage."""


class GlueJobRunOperator(GlueJobOperator):
    """
    Run a Glue job like ``GlueJobOperator``; on failure, raise with the run's ``ErrorMessage``.

    The provider only reports ``Exiting Job <run id> Run State: FAILED``; the cause is in
    ``GetJobRun``. Every argument is ``GlueJobOperator``'s.
    """

    def execute(self, context: Context) -> Any:
        try:
            return super().execute(context)
        except AirflowException as err:
            if not self._job_run_id:
                raise
            run = self.hook.conn.get_job_run(JobName=self.job_name, RunId=self._job_run_id)["JobRun"]
            if not run.get("ErrorMessage"):
                raise
            raise GlueJobRunFailedError(
                f"Glue job {self.job_name} run {self._job_run_id} ended {run['JobRunState']}: {run['ErrorMessage']}"
            ) from err
