"""DynamoDB Query on the local AWS visits only the queried partition, with moto's own answer.

moto's ``Table.query`` sorts every item of the table and tests each one against the
key condition, for every Query: at 100,000 items the count check's 1000 per-shard
Queries take minutes. Here moto's own ``query`` code still computes the answer
(order, ``Limit``, pagination, filters, projection, ``Count``/``ScannedCount``), but over
a candidate list narrowed to the items whose partition key equals the condition's:

* a table Query (or one on an index that shares the table's partition key) reads
  moto's own ``Table.items[hash]``;
* a Query on another index reads a map ``attribute -> value -> items``, built the
  first time an index's partition key is queried and kept in step by every write
  path of the pinned moto: ``Table.put_item`` (PutItem, BatchWriteItem, transactions,
  PartiQL, imports), ``Table.delete_item`` and ``DynamoDBBackend.update_item`` (which
  changes items in place).

Each write re-reads the item its key now holds, under the map's lock, after moto
wrote it: whatever order concurrent writers to one key finish in, the map ends as
the table does, and before the write's response is sent. Tables that moto
replaces (transaction rollback, restore) are new objects and start without a map.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

TABLE_QUERY = "moto.dynamodb.models.table.Table.query"
TABLE_PUT_ITEM = "moto.dynamodb.models.table.Table.put_item"
TABLE_DELETE_ITEM = "moto.dynamodb.models.table.Table.delete_item"
BACKEND_UPDATE_ITEM = "moto.dynamodb.models.DynamoDBBackend.update_item"
REPLACED = (TABLE_QUERY, TABLE_PUT_ITEM, TABLE_DELETE_ITEM, BACKEND_UPDATE_ITEM)

# DynamoType's own equality and hash are those of (type, cast value): the maps key on that.
Plain = tuple[str, Any]
# An item's primary key, plain: (hash, range or None).
Key = tuple[Plain, Plain | None]


def _plain(value: Any) -> Plain | None:
    """``value`` (a DynamoType or None) as a hashable tuple; None if absent or unhashable.

    Sets, lists and maps are unhashable, and can never equal a key value (same type, same hashability).
    """
    if value is None:
        return None
    plain = (value.type, value.cast_value)
    try:
        hash(plain)
    except TypeError:
        return None
    return plain


class _Postings:
    """The items of one table by their value of one attribute: ``(type, value) -> {key: item}``."""

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute
        self.by_value: dict[Plain, dict[Key, Any]] = {}
        self.value_of: dict[Key, Plain] = {}

    def place(self, key: Key, item: Any) -> None:
        """File ``key`` under ``item``'s current value (nowhere if the item is gone or lacks the attribute)."""
        old = self.value_of.pop(key, None)
        if old is not None:
            bucket = self.by_value[old]
            del bucket[key]
            if not bucket:
                del self.by_value[old]
        plain = None if item is None else _plain(item.attrs.get(self.attribute))
        if plain is not None:
            self.by_value.setdefault(plain, {})[key] = item
            self.value_of[key] = plain


class _TableMaps:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.postings: dict[str, _Postings] = {}


_maps: weakref.WeakKeyDictionary[Any, _TableMaps] = weakref.WeakKeyDictionary()
_maps_lock = threading.Lock()


def _table_maps(table: Any) -> _TableMaps:
    with _maps_lock:
        maps = _maps.get(table)
        if maps is None:
            maps = _maps[table] = _TableMaps()
        return maps


def _partition(table: Any, hash_value: Any) -> list[Any]:
    """The items whose table partition key is ``hash_value``, without creating an entry in moto's defaultdict."""
    entry = table.items.get(hash_value)
    if isinstance(entry, dict):
        return list(entry.values())
    return [] if entry is None else [entry]


def _current(table: Any, hash_value: Any, range_value: Any) -> Any:
    """The item at (``hash_value``, ``range_value``) now, or None."""
    entry = table.items.get(hash_value)
    if isinstance(entry, dict):
        return entry.get(range_value) if range_value is not None else None
    return entry


def _all(table: Any) -> Iterable[Any]:
    for entry in list(table.items.values()):
        if isinstance(entry, dict):
            yield from list(entry.values())
        else:
            yield entry


def _postings(table: Any, attribute: str) -> tuple[_TableMaps, _Postings]:
    maps = _table_maps(table)
    with maps.lock:
        postings = maps.postings.get(attribute)
        if postings is None:
            postings = _Postings(attribute)
            for item in _all(table):
                postings.place((_plain(item.hash_key), _plain(item.range_key)), item)
            maps.postings[attribute] = postings
    return maps, postings


def _existing_maps(table: Any) -> _TableMaps | None:
    with _maps_lock:
        return _maps.get(table)


def _resync(table: Any, hash_value: Any, range_value: Any) -> None:
    """Refile the item at this key in every map of ``table``, after a write to it."""
    maps = _existing_maps(table)
    if maps is not None:
        _refile(maps, table, hash_value, range_value)


def _refile(maps: _TableMaps, table: Any, hash_value: Any, range_value: Any) -> None:
    if not table.range_key_attr:
        range_value = None
    with maps.lock:
        key = (_plain(hash_value), _plain(range_value))
        if key[0] is None:  # a malformed key: drop the maps rather than guess (rebuilt when next used)
            maps.postings.clear()
            return
        item = _current(table, hash_value, range_value)
        for postings in maps.postings.values():
            postings.place(key, item)


def _resync_attributes(table: Any, attributes: dict[str, Any]) -> None:
    """``_resync`` at the key given as attribute values (a PutItem's item, an UpdateItem's key)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    maps = _existing_maps(table)
    if maps is None:  # no Query on an index yet: nothing to keep
        return
    try:
        hash_value = DynamoType(attributes[table.hash_key_attr])
        range_value = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
    except Exception:  # not a key moto can have written under: rebuild the maps when next used
        hash_value = range_value = None
    _refile(maps, table, hash_value, range_value)


def _all_items_order(item: Any) -> Any:
    """``Table.all_items``'s sort key, so moto sees the candidates in the order it would have."""
    return (item.hash_key, item.range_key) if item.range_key else item.hash_key


def _candidates(
    table: Any, hash_key: Any, index_name: str | None, hash_key_conditions: list[tuple[str, Any]] | None
) -> list[Any] | None:
    """Every item moto's query could keep, in ``all_items`` order; None: let moto look at all of them."""
    if index_name is None:
        attribute, value = table.hash_key_attr, hash_key
    elif hash_key_conditions and index_name in {index.name for index in table.all_indexes()}:
        attribute, value = hash_key_conditions[0]  # every candidate must match this one; moto checks the rest
    else:
        return None
    plain = _plain(value)
    if plain is None:
        return None
    if attribute == table.hash_key_attr:
        items = _partition(table, value)
    else:
        maps, postings = _postings(table, attribute)
        with maps.lock:
            items = list(postings.by_value.get(plain, {}).values())
    return sorted(items, key=_all_items_order)


class _Narrowed:
    """The table as moto's ``query`` sees it: ``all_items`` is the candidate list; everything else is the table."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table = table
        self._items = items

    def all_items(self) -> list[Any]:
        return self._items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def _query(original: Callable[..., Any]) -> Callable[..., Any]:
    def query(
        self: Any,
        hash_key: Any,
        range_comparison: str | None,
        range_objs: list[Any],
        limit: int,
        exclusive_start_key: dict[str, Any],
        scan_index_forward: bool,
        projection_expressions: list[list[str]] | None,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: list[tuple[str, Any]] | None = None,
        range_key_conditions: list[tuple[str, str, list[Any]]] | None = None,
        **filter_kwargs: Any,
    ) -> Any:
        candidates = _candidates(self, hash_key, index_name, hash_key_conditions)
        return original(
            self if candidates is None else _Narrowed(self, candidates),
            hash_key,
            range_comparison,
            range_objs,
            limit,
            exclusive_start_key,
            scan_index_forward,
            projection_expressions,
            index_name,
            consistent_read,
            filter_expression,
            hash_key_conditions=hash_key_conditions,
            range_key_conditions=range_key_conditions,
            **filter_kwargs,
        )

    return query


def _put_item(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_item(
        self: Any,
        item_attrs: dict[str, Any],
        expected: dict[str, Any] | None = None,
        condition_expression: str | None = None,
        expression_attribute_names: dict[str, str] | None = None,
        expression_attribute_values: dict[str, Any] | None = None,
        overwrite: bool = False,
        return_values_on_condition_check_failure: str | None = None,
    ) -> Any:
        try:
            return original(
                self,
                item_attrs,
                expected,
                condition_expression,
                expression_attribute_names,
                expression_attribute_values,
                overwrite,
                return_values_on_condition_check_failure,
            )
        finally:
            _resync_attributes(self, item_attrs)

    return put_item


def _delete_item(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        try:
            return original(self, hash_key, range_key)
        finally:
            _resync(self, hash_key, range_key)

    return delete_item


def _update_item(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_item(
        self: Any,
        table_name: str,
        key: dict[str, dict[str, Any]],
        update_expression: str,
        expression_attribute_names: dict[str, Any],
        expression_attribute_values: dict[str, Any],
        attribute_updates: dict[str, Any] | None = None,
        expected: dict[str, Any] | None = None,
        condition_expression: str | None = None,
        return_values_on_condition_check_failure: str | None = None,
    ) -> Any:
        try:
            return original(
                self,
                table_name,
                key,
                update_expression,
                expression_attribute_names,
                expression_attribute_values,
                attribute_updates,
                expected,
                condition_expression,
                return_values_on_condition_check_failure,
            )
        finally:
            table = self.tables.get(table_name)
            if table is not None:
                _resync_attributes(table, key)

    return update_item


def replacements(originals: dict[str, Any]) -> dict[str, Any]:
    """The fast query and the write paths that keep its maps, wrapping ``originals`` (by qualified name)."""
    return {
        TABLE_QUERY: _query(originals[TABLE_QUERY]),
        TABLE_PUT_ITEM: _put_item(originals[TABLE_PUT_ITEM]),
        TABLE_DELETE_ITEM: _delete_item(originals[TABLE_DELETE_ITEM]),
        BACKEND_UPDATE_ITEM: _update_item(originals[BACKEND_UPDATE_ITEM]),
    }
