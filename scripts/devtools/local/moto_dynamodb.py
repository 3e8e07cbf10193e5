"""moto's DynamoDB with flat memory and per-table locks: see `patch()`.

`devtools.local.motoserver.apply_patches()` calls `patch()`, so the local runtime's moto server
and the in-process test kit (devtools.testing) run the same DynamoDB.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_patched = False
_original: dict[str, Callable[..., Any]] = {}  # moto's DynamoDBBackend write methods, unpatched


def patch() -> None:
    """Make moto 5.2.5's DynamoDB keep flat memory and atomic, per-table writes, as DynamoDB does.

    What AWS does: each write (PutItem, UpdateItem, DeleteItem, each item of BatchWriteItem) is
    atomic; TransactWriteItems checks all its conditions and applies all its writes or none,
    isolated from other requests on those items, and a cancelled one leaves no trace in the table
    or its stream. Requests on other tables never wait for it. The stream gets one record per
    item a write changed: none for a ConditionCheck, none for a write that changes nothing.

    What moto does wrong:
    - Memory. Every model object (item, stream record, shard iterator) is appended to its class's
      `instances_tracked` list (for the /moto-api dashboard) and never removed, so nothing moto's
      DynamoDB creates is ever freed. TransactWriteItems deep-copies every table it touches,
      stream records included, as a rollback backup, and every copy stays tracked: n
      transactions on one table keep n(n+1)/2 copies of its items and records (1,000 single-item
      transactions on a streamed table: 1,003,011 tracked objects, 1.7 GB RSS, 14 ms per
      transaction at the start and 81 ms at the end). UpdateItem, Query and Scan deep-copy
      items too, and every GetRecords call stores a new shard iterator under a random id,
      forever (1.6 KB per poll: ~48 MB an hour for a local runtime polling two streams).
    - Atomicity. Conditions are checked and writes applied in separate Python steps, unlocked;
      a cancelled transaction is rolled back by putting the backup table in place of the live
      one, which loses other threads' writes and strands stream readers on the detached table
      (they see the cancelled writes and nothing after them).
    - Streams. An UpdateItem that creates an item emits two INSERTs (keys only, then the item);
      a write that changes nothing emits a MODIFY.

    What we do:
    - moto's DynamoDB and DynamoDB Streams classes track their instances weakly: the dashboard
      still lists every live object, and what moto drops is freed.
    - TransactWriteItems evaluates every condition first, against the items as they are (DynamoDB
      evaluates them before writing; the items are distinct), and cancels without writing if one
      fails. Otherwise it applies the writes, remembering for each item only what it replaced
      (the previous Item; UpdateItem is applied to a copy, since moto updates in place) and the
      stream's length, and puts exactly those back if a write still fails. No table is copied.
    - Every write, in a transaction or not, leaves one stream record per changed item.
    - Locks: one re-entrant lock per table (account, region, name). A DynamoDB request holds the
      locks of the tables it names for its whole duration, taken in sorted name order so that
      two transactions cannot deadlock; DynamoDB Streams reads hold their table's lock (no
      reader sees a write that is still being cancelled). Requests on other tables never wait.
    - A shard iterator is named by its position, so a poller reuses one entry per position
      instead of adding one per call.
    """
    global _patched  # noqa: PLW0603 - patch once per process
    if _patched:
        return
    _patched = True
    _track_live_instances_only()
    _patch_writes()
    _lock_requests()
    _patch_streams()


# ---------------------------------------------------------------------------- memory


class _LiveInstances:
    """Stands in for a moto model class's `instances_tracked` list without keeping instances alive."""

    def __init__(self) -> None:
        refs: dict[int, weakref.ref[Any]] = {}
        self._refs = refs
        self._forget = lambda ref: refs.pop(id(ref), None)

    def append(self, instance: Any) -> None:
        ref = weakref.ref(instance, self._forget)
        self._refs[id(ref)] = ref

    def __iter__(self) -> Iterator[Any]:
        for ref in list(self._refs.values()):
            instance = ref()
            if instance is not None:
                yield instance

    def __len__(self) -> int:
        return len(self._refs)


def _track_live_instances_only() -> None:
    import moto.dynamodb.models  # registers the model classes
    import moto.dynamodbstreams.models  # noqa: F401
    from moto.core.model_instances import model_data

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        instance = object.__new__(cls)
        tracked = cls.__dict__.get("instances_tracked")
        if not isinstance(tracked, _LiveInstances):  # first instance, or moto's reset put a list back
            tracked = _LiveInstances()
            cls.instances_tracked = tracked  # type: ignore[attr-defined]
        tracked.append(instance)
        return instance

    for service in ("dynamodb", "dynamodbstreams"):
        for cls in list(model_data[service].values()):
            cls.__new__ = staticmethod(__new__)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- locks


class _TableLocks:
    """One re-entrant lock per (account, region, table name), taken in sorted order."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str, str], threading.RLock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: tuple[str, str, str]) -> threading.RLock:
        lock = self._locks.get(key)
        if lock is None:
            with self._guard:
                lock = self._locks.setdefault(key, threading.RLock())
        return lock

    @contextlib.contextmanager
    def hold(self, account: str, region: str, tables: Iterable[str]) -> Iterator[None]:
        names = sorted({_table_name(t) for t in tables if isinstance(t, str)})
        locks = [self._lock((account, region, name)) for name in names]
        for lock in locks:
            lock.acquire()
        try:
            yield
        finally:
            for lock in reversed(locks):
                lock.release()


_LOCKS = _TableLocks()


def _table_name(name_or_arn: str) -> str:
    # arn:aws:dynamodb:<region>:<account>:table/<name>
    return name_or_arn.split("/", 1)[1] if name_or_arn.startswith("arn:") else name_or_arn


def _named(body: dict[str, Any], backend: Any) -> list[str]:
    return [body["TableName"]]


def _request_items(body: dict[str, Any], backend: Any) -> list[str]:
    return list(body["RequestItems"])


def _transact_items(body: dict[str, Any], backend: Any) -> list[str]:
    return [op["TableName"] for item in body["TransactItems"] for op in item.values()]


def _every_table(body: dict[str, Any], backend: Any) -> list[str]:
    return list(backend.tables)  # moto's PartiQL reads every table of the region


# DynamoHandler action -> the tables whose locks the request holds while moto serves it.
_REQUEST_TABLES: dict[str, Callable[[dict[str, Any], Any], list[str]]] = {
    "get_item": _named,
    "put_item": _named,
    "update_item": _named,
    "delete_item": _named,
    "query": _named,
    "scan": _named,
    "describe_table": _named,
    "batch_get_item": _request_items,
    "batch_write_item": _request_items,
    "transact_get_items": _transact_items,
    "transact_write_items": _transact_items,
    "execute_statement": _every_table,
    "execute_transaction": _every_table,
    "batch_execute_statement": _every_table,
}


def _lock_requests() -> None:
    # At the request, not the backend call: moto's handlers read before they write (ReturnValues)
    # and serve BatchGetItem / TransactGetItems as one get_item after the other.
    from moto.dynamodb.responses import DynamoHandler

    for action, tables_of in _REQUEST_TABLES.items():
        original = getattr(DynamoHandler, action, None)
        if original is None:
            continue

        def locked(self: Any, _original: Any = original, _tables_of: Any = tables_of) -> Any:
            backend = self.dynamodb_backend
            try:
                names = _tables_of(self.body, backend)
            except (KeyError, TypeError, AttributeError):
                names = []  # malformed: moto answers with its own error
            with _LOCKS.hold(backend.account_id, backend.region_name, names):
                return _original(self)

        setattr(DynamoHandler, action, locked)


# ---------------------------------------------------------------------------- writes


class _Change:
    """One item write: what it replaced, to write its one stream record, or to undo it."""

    __slots__ = ("before", "had_bucket", "hash_key", "mark", "range_key", "records", "table")

    @classmethod
    def begin(cls, backend: Any, table_name: str, kind: str, source: dict[str, Any]) -> _Change | None:
        """Before moto writes: `source` is the item (Put) or the key (Update, Delete)."""
        try:
            table = backend.get_table(table_name)
            key = source
            if kind == "Put":
                key = {table.hash_key_attr: source[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = source[table.range_key_attr]
            hash_key, range_key = backend.get_keys_value(table, key)
        except Exception:
            return None  # moto's own call reports what is wrong, before it writes anything
        change = cls()
        change.table, change.hash_key, change.range_key = table, hash_key, range_key
        bucket = table.items.get(hash_key)  # .get: table.items is a defaultdict
        change.had_bucket = bucket is not None
        change.before = bucket if range_key is None else (bucket or {}).get(range_key)
        if kind == "Update" and change.before is not None:
            # moto updates the stored Item in place: let it update a copy, keep the original.
            change._store(copy.deepcopy(change.before))
        shard = table.stream_shard
        change.records = shard.items if shard is not None else None
        change.mark = len(change.records) if change.records is not None else 0
        return change

    def _current(self) -> Any:
        bucket = self.table.items.get(self.hash_key)
        return bucket if self.range_key is None else (bucket or {}).get(self.range_key)

    def _store(self, item: Any) -> None:
        if self.range_key is None:
            self.table.items[self.hash_key] = item
        else:
            self.table.items[self.hash_key][self.range_key] = item

    def _stream_records(self) -> list[Any] | None:
        shard = self.table.stream_shard
        # moto replaces the list after handing records to a (moto) Lambda event source mapping
        return self.records if shard is not None and shard.items is self.records else None

    def record(self) -> None:
        """After moto wrote: one stream record if the item changed, in place of moto's."""
        records = self._stream_records()
        if records is None:
            return
        del records[self.mark :]
        after = self._current()
        if after is None and self.before is None:
            return
        if after is not None and self.before is not None and after == self.before:
            return  # nothing changed: DynamoDB writes no stream record
        self.table.stream_shard.add(self.before, after)

    def undo(self) -> None:
        if self.before is not None:
            self._store(self.before)
        elif self.range_key is None:
            self.table.items.pop(self.hash_key, None)
        else:
            bucket = self.table.items.get(self.hash_key)
            if bucket is not None:
                bucket.pop(self.range_key, None)
                if not bucket and not self.had_bucket:
                    self.table.items.pop(self.hash_key, None)
        records = self._stream_records()
        if records is not None:
            del records[self.mark :]


def _write(backend: Any, table_name: str, kind: str, source: dict[str, Any], call: Callable[[], Any]) -> Any:
    with _LOCKS.hold(backend.account_id, backend.region_name, [table_name]):
        change = _Change.begin(backend, table_name, kind, source)
        if change is None:
            return call()
        try:
            result = call()
        except BaseException:
            change.undo()  # e.g. an UpdateItem that created the item, then failed validation
            raise
        change.record()
        return result


def _patch_writes() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in ("put_item", "update_item", "delete_item"):
        _original[name] = getattr(DynamoDBBackend, name)

    def put_item(self: Any, table_name: str, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        return _write(
            self,
            table_name,
            "Put",
            item_attrs,
            lambda: _original["put_item"](self, table_name, item_attrs, *args, **kwargs),
        )

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        return _write(
            self, table_name, "Update", key, lambda: _original["update_item"](self, table_name, key, *args, **kwargs)
        )

    def delete_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        return _write(
            self, table_name, "Delete", key, lambda: _original["delete_item"](self, table_name, key, *args, **kwargs)
        )

    DynamoDBBackend.put_item = put_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    DynamoDBBackend.delete_item = delete_item  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems (same checks, errors and reasons), without copying tables."""
    from moto.dynamodb.exceptions import TooManyTransactionsException

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    names = [op.get("TableName") for item in transact_items for op in item.values() if isinstance(op, dict)]
    with _LOCKS.hold(self.account_id, self.region_name, names):
        writes = _check_transaction(self, transact_items)
        _apply_transaction(self, transact_items, writes)


def _check_transaction(self: Any, transact_items: list[dict[str, Any]]) -> list[tuple[int, str, dict[str, Any]]]:
    """Every condition, before any write; cancels the transaction if one fails. Returns the writes."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    seen: set[tuple[str, str]] = set()
    reasons: list[tuple[Any, Any, Any]] = []
    writes: list[tuple[int, str, dict[str, Any]]] = []
    for index, item in enumerate(transact_items):
        if len(item) > 1:
            raise TransactWriteSingleOpException()
        failed_item = None
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            if op_type == "Put":
                table = self.get_table(table_name)
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            unique = (str(table_name), str(dict(sorted(key.items()))))
            if unique in seen:
                raise MultipleTransactionsException()
            seen.add(unique)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                check = get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        failed_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=failed_item)
            reasons.append((None, None, None))
            if op_type != "ConditionCheck":
                writes.append((index, op_type, key))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as exc:
            reasons.append(("ConditionalCheckFailed", str(exc.message), failed_item))
        except Exception as exc:
            reasons.append((type(exc).__name__, str(exc), failed_item))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)
    return writes


def _apply_transaction(
    self: Any, transact_items: list[dict[str, Any]], writes: list[tuple[int, str, dict[str, Any]]]
) -> None:
    """The writes, in request order; if one fails (validation), the ones before it are undone."""
    from moto.dynamodb.exceptions import ConditionalCheckFailed, MockValidationException, TransactionCanceledException

    done: list[_Change] = []
    for index, op_type, key in writes:
        op = transact_items[index][op_type]
        table_name = op["TableName"]
        expression = {
            "condition_expression": op.get("ConditionExpression"),
            "expression_attribute_names": op.get("ExpressionAttributeNames"),
            "expression_attribute_values": op.get("ExpressionAttributeValues"),
        }
        change = _Change.begin(self, table_name, op_type, op["Item"] if op_type == "Put" else key)
        try:
            if op_type == "Put":
                _original["put_item"](self, table_name, op["Item"], **expression)
            elif op_type == "Update":
                _original["update_item"](self, table_name, key, update_expression=op["UpdateExpression"], **expression)
            else:
                _original["delete_item"](self, table_name, key, **expression)
        except Exception as exc:
            for undo in ([change] if change is not None else []) + done[::-1]:
                undo.undo()
            if isinstance(exc, MockValidationException):
                raise
            reasons: list[tuple[Any, Any, Any]] = [(None, None, None)] * len(transact_items)
            if isinstance(exc, ConditionalCheckFailed):
                reasons[index] = ("ConditionalCheckFailed", str(exc.message), None)
            else:
                reasons[index] = (type(exc).__name__, str(exc), None)
            raise TransactionCanceledException(reasons) from exc
        if change is not None:
            change.record()
            done.append(change)


# ---------------------------------------------------------------------------- streams


def _patch_streams() -> None:
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    init = ShardIterator.__init__

    def __init__(self: Any, streams_backend: Any, stream_shard: Any, *args: Any, **kwargs: Any) -> None:
        init(self, streams_backend, stream_shard, *args, **kwargs)
        # Named by position (the ARN adds table and stream): each poll at the same position
        # replaces the same entry of the backend's iterators instead of adding one.
        position = getattr(self, "sequence_number", None)
        if position is not None:
            self.id = f"{stream_shard.id}:{position}"

    ShardIterator.__init__ = __init__  # type: ignore[method-assign]

    get_records = DynamoDBStreamsBackend.get_records
    get_shard_iterator = DynamoDBStreamsBackend.get_shard_iterator

    def locked_get_records(self: Any, iterator_arn: str, limit: int) -> Any:
        iterator = self.shard_iterators.get(iterator_arn)
        if iterator is None:
            return get_records(self, iterator_arn, limit)
        table = iterator.stream_shard.table
        with _LOCKS.hold(table.account_id, table.region_name, [table.name]):
            return get_records(self, iterator_arn, limit)

    def locked_get_shard_iterator(self: Any, arn: str, *args: Any, **kwargs: Any) -> Any:
        try:
            table = self._get_table_from_arn(arn)
        except Exception:
            return get_shard_iterator(self, arn, *args, **kwargs)
        with _LOCKS.hold(table.account_id, table.region_name, [table.name]):
            return get_shard_iterator(self, arn, *args, **kwargs)

    DynamoDBStreamsBackend.get_records = locked_get_records  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_shard_iterator = locked_get_shard_iterator  # type: ignore[method-assign]
