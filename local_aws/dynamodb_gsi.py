"""DynamoDB global secondary index deletion on the local AWS takes time, as on AWS.

moto drops an index the moment ``UpdateTable`` deletes it and lets any number of index
creations and deletions run at once. On AWS (DynamoDB Developer Guide, "Managing Global
Secondary Indexes"):

* a deleted index stays listed by ``DescribeTable`` with ``IndexStatus: DELETING`` until
  the deletion ends, and "can no longer be used";
* one ``UpdateTable`` creates or deletes at most one index, and no index can be created or
  deleted while another creation or deletion runs on the table. Both are refused with
  ``LimitExceededException`` ("Subscriber limit exceeded: Only 1 online index can be
  created or deleted simultaneously per table") -- so is re-creating an index under the
  name of one that is still DELETING;
* deleting an index the table lacks is ``ResourceNotFoundException``, creating one under a
  name an index has is ``ValidationException``.

Here a deleted index leaves moto's table at once (so Query, Scan and the write paths treat
it as gone, and ``dynamodb_index`` never visits it) and is kept aside, listed as DELETING by
``Table.describe``, for ``LOCAL_AWS_GSI_DELETE_SECONDS`` (default 3) seconds. Index creation
stays instant (ACTIVE at once). The table stays ACTIVE meanwhile.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

BACKEND_UPDATE_TABLE = "moto.dynamodb.models.DynamoDBBackend.update_table"
TABLE_DESCRIBE = "moto.dynamodb.models.table.Table.describe"
REPLACED = (BACKEND_UPDATE_TABLE, TABLE_DESCRIBE)

DELETE_SECONDS_ENV = "LOCAL_AWS_GSI_DELETE_SECONDS"
DEFAULT_DELETE_SECONDS = 3.0
ONE_AT_A_TIME = "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table"

# table -> index name -> (moto's index object, monotonic time its deletion ends)
_deleting: weakref.WeakKeyDictionary[Any, dict[str, tuple[Any, float]]] = weakref.WeakKeyDictionary()
_lock = threading.RLock()


def delete_seconds() -> float:
    """How long a deleted index stays DELETING (``LOCAL_AWS_GSI_DELETE_SECONDS``, default 3)."""
    raw = os.environ.get(DELETE_SECONDS_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_DELETE_SECONDS
    except ValueError:
        raise ValueError(f"{DELETE_SECONDS_ENV}={raw!r} is not a number of seconds") from None


def _pending(table: Any) -> dict[str, tuple[Any, float]]:
    """The indexes of ``table`` still DELETING (those whose time is up are dropped). Call under ``_lock``."""
    deleting = _deleting.get(table)
    if deleting is None:
        return {}
    now = time.monotonic()
    for name in [n for n, (_, ends) in deleting.items() if ends <= now]:
        del deleting[name]
    if not deleting:
        del _deleting[table]
    return deleting


def deleting_indexes(table: Any) -> list[str]:
    """The names of the indexes of moto's ``table`` that are DELETING now."""
    with _lock:
        return sorted(_pending(table))


def _error(kind: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX

    return JsonRESTError(ERROR_TYPE_PREFIX + kind, message)


def _refuse(table: Any, updates: list[dict[str, Any]], deleting: dict[str, Any]) -> None:
    """Raise AWS's error if ``updates`` (GlobalSecondaryIndexUpdates) cannot run on ``table`` now."""
    creates = [u["Create"]["IndexName"] for u in updates if u.get("Create")]
    deletes = [u["Delete"]["IndexName"] for u in updates if u.get("Delete")]
    if len(creates) + len(deletes) > 1 or ((creates or deletes) and deleting):
        raise _error("LimitExceededException", ONE_AT_A_TIME)
    names = {index.name for index in table.all_indexes()}
    for name in deletes:
        if name not in {index.name for index in table.global_indexes}:
            raise _error("ResourceNotFoundException", f"Requested resource not found: Index: {name} not found")
    for name in creates:
        if name in names:
            raise _error(
                "ValidationException",
                f"One or more parameter values were invalid: Index with name {name} already exists",
            )


def _update_table(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_table(
        self: Any,
        name: str,
        attr_definitions: list[dict[str, str]],
        global_index: list[dict[str, Any]],
        throughput: dict[str, Any],
        billing_mode: str,
        stream_spec: dict[str, Any],
        deletion_protection_enabled: bool | None,
        warm_throughput: dict[str, Any] | None,
    ) -> Any:
        table = self.get_table(name)
        updates = global_index or []
        with _lock:
            _refuse(table, updates, _pending(table))
            doomed = {
                index.name: index
                for index in table.global_indexes
                if index.name in {u["Delete"]["IndexName"] for u in updates if u.get("Delete")}
            }
            result = original(
                self,
                name,
                attr_definitions,
                global_index,
                throughput,
                billing_mode,
                stream_spec,
                deletion_protection_enabled,
                warm_throughput,
            )
            seconds = delete_seconds()
            if doomed and seconds > 0:
                ends = time.monotonic() + seconds
                _deleting.setdefault(table, {}).update({n: (index, ends) for n, index in doomed.items()})
        return result

    return update_table


def _describe(original: Callable[..., Any]) -> Callable[..., Any]:
    def describe(self: Any, base_key: str = "TableDescription") -> dict[str, Any]:
        result = original(self, base_key)
        with _lock:
            deleting = list(_pending(self).values())
        if deleting:
            indexes = result[base_key].setdefault("GlobalSecondaryIndexes", [])
            for index, _ in deleting:
                indexes.append({**index.describe(), "IndexStatus": "DELETING"})
        return result

    return describe


def replacements(originals: dict[str, Any]) -> dict[str, Any]:
    """UpdateTable's index checks and DescribeTable's DELETING indexes, wrapping ``originals`` (by qualified name)."""
    return {
        BACKEND_UPDATE_TABLE: _update_table(originals[BACKEND_UPDATE_TABLE]),
        TABLE_DESCRIBE: _describe(originals[TABLE_DESCRIBE]),
    }
