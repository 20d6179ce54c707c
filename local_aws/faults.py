"""Fault injection for tests: make the local AWS misbehave the way AWS sometimes does.

A DynamoDB table tagged ``local-aws:fault`` = ``BatchWriteItem:<fault>:<count>``
answers its next ``<count>`` BatchWriteItem calls with ``<fault>``:

* ``ProvisionedThroughputExceededException`` (HTTP 400, retried by botocore);
* ``UnprocessedItems`` (HTTP 200, nothing written, every request handed back).

The count lives in the tag and goes down with each injected fault, so tests
set it with the ordinary TagResource API and nothing else.
"""

from __future__ import annotations

from typing import Any

FAULT_TAG = "local-aws:fault"
THROTTLE = "ProvisionedThroughputExceededException"
UNPROCESSED = "UnprocessedItems"


def _take_fault(table: Any, operation: str) -> str | None:
    """Consume one fault planned for ``operation`` on ``table``, if any."""
    for tag in table.tags:
        if tag["Key"] != FAULT_TAG:
            continue
        planned_operation, fault, count = tag["Value"].split(":")
        if planned_operation != operation or int(count) <= 0:
            return None
        tag["Value"] = f"{planned_operation}:{fault}:{int(count) - 1}"
        return fault
    return None


def throttled_error() -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(
        THROTTLE, "The level of configured provisioned throughput for the table was exceeded. (injected)"
    )


def wrap_batch_write_item(original: Any) -> Any:
    """Wrap moto's ``DynamoHandler.batch_write_item`` with the planned faults."""

    def batch_write_item(self: Any) -> Any:
        from moto.core.responses import ActionResult

        requests = self.body["RequestItems"]
        for table_name in requests:
            fault = _take_fault(self.dynamodb_backend.get_table(table_name), "BatchWriteItem")
            if fault == THROTTLE:
                raise throttled_error()
            if fault == UNPROCESSED:
                return ActionResult({"UnprocessedItems": requests})
        return original(self)

    return batch_write_item
