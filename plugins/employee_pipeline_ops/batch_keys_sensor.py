"""S3BatchKeysSensor: the provider's S3KeySensor, timing out with the list of missing keys."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk.exceptions import AirflowSensorTimeout

from employee_pipeline_ops import lineage
from employee_pipeline_ops.links import S3BatchObjectsLink, persist_link

if TYPE_CHECKING:
    from airflow.sdk import Context


class S3BatchKeysSensor(S3KeySensor):
    """
    Wait for every key of a batch, like ``S3KeySensor``; a timeout names the keys still missing.

    Works deferred (the triggerer's timeout) and in poke mode. Links to the folder that holds the
    keys. With the OpenLineage provider, the task reports the keys as its inputs. Every argument is
    ``S3KeySensor``'s.
    """

    operator_extra_links = (S3BatchObjectsLink(),)

    def _keys(self) -> list[str]:
        return [self.bucket_key] if isinstance(self.bucket_key, str) else list(self.bucket_key)

    def missing_keys(self) -> list[str]:
        return [key for key in self._keys() if not self.hook.check_for_key(key, self.bucket_name)]

    def _timed_out(self) -> AirflowSensorTimeout:
        missing = self.missing_keys()
        return AirflowSensorTimeout(
            f"timed out after {self.timeout:.0f}s waiting for {len(missing)} of {len(self._keys())} objects "
            f"in s3://{self.bucket_name}: missing {missing}"
        )

    def keys_prefix(self) -> str:
        """The folder every key is in (``raw/.../hour=09/`` for the batch's ``part-NNNNN.jsonl`` keys)."""
        common = posixpath.commonprefix(self._keys())
        return common[: common.rfind("/") + 1]

    def get_openlineage_facets_on_start(self) -> Any:
        """OpenLineage: the objects waited for (the provider's ``S3KeySensor`` reports none)."""
        located = [S3Hook.get_s3_bucket_key(self.bucket_name, key, "bucket_name", "bucket_key") for key in self._keys()]
        return lineage.operator_lineage(inputs=[lineage.s3_object(bucket, key) for bucket, key in located])

    def execute(self, context: Context) -> Any:
        persist_link(S3BatchObjectsLink, context, self, bucket_name=self.bucket_name, prefix=self.keys_prefix())
        try:
            return super().execute(context)
        except AirflowSensorTimeout as err:
            raise self._timed_out() from err

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSensorTimeout as err:  # the base sensor's form of the triggerer's timeout
            raise self._timed_out() from err
