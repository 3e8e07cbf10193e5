"""moto frees what it drops, in every service: see `patch()`.

`devtools.local.motoserver.apply_patches()` calls it (the runtime's moto server and the test kit).
devtools.local.moto_dynamodb fixed DynamoDB's copies and locks; this extends its weak instance
tracking to every moto service and bounds the two other things that grew with traffic.
"""

from __future__ import annotations

import collections
import contextlib
import json
import time
from collections.abc import Iterable
from typing import Any

from devtools.local.moto_dynamodb import _LiveInstances

_patched = False
# SQS: receipt handles of deleted messages remembered per queue (a delete with one of them
# succeeds again, as SQS answers a repeated delete), the most recent ones.
DELETED_HANDLES_KEPT = 1_000
# DynamoDB Streams: a shard iterator expires 15 minutes after it was handed out (AWS).
SHARD_ITERATOR_SECONDS = 15 * 60


def patch() -> None:
    """What grew without bound in moto 5.2.5, measured with the local runtime under load
    (`make bench-soak`) and `tests/emulator/test_moto_memory.py`:

    - Every model object (an SQS message, the copy ReceiveMessage hands out of it, an EventBridge
      event, an S3 key, an SNS message, ...) is appended to its class's `instances_tracked` list
      for the /moto-api dashboard and never removed, so nothing is ever freed: one EventBridge ->
      SQS -> receive -> delete cycle kept three SQS Message objects and their bodies forever. Every
      model class now tracks its instances weakly (`BaseModel.__new__`, as moto_dynamodb did for
      DynamoDB's): the dashboard lists the live ones, what moto drops is freed.
    - An SQS queue remembers the receipt handle of every message it deleted (`deleted_messages`,
      a set, so that a second DeleteMessage succeeds): about 230 bytes a message, forever. Each
      queue keeps the last DELETED_HANDLES_KEPT.
    - The bus archive keeps every event as a dict of dicts (~2.5 KiB in memory for a 600-byte
      event, a quarter of moto's growth per order under the soak); it keeps them as compact JSON
      text now, decoded when replayed. Same events, same count.
    - DynamoDB Streams keeps every shard iterator it handed out (one per poll position, since
      moto_dynamodb names them by position): AWS expires them after 15 minutes; so do we.

    Not bounded, because AWS keeps them too: items, stream records (AWS trims them after 24 h),
    the bus archive's events (its retention, 30 days here), SES's sent mail. They are what moto's
    memory still grows with: ~110 KiB an order of the saga (`make bench-soak`).
    """
    global _patched  # noqa: PLW0603 - patch once per process
    if _patched:
        return
    _patched = True
    _track_live_instances_only()
    _bound_sqs_deleted_handles()
    _expire_shard_iterators()
    _compact_archives()


def _track_live_instances_only() -> None:
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import model_data

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        instance = object.__new__(cls)
        tracked = cls.__dict__.get("instances_tracked")
        if not isinstance(tracked, _LiveInstances):  # first instance, or moto's reset put a list back
            tracked = _LiveInstances()
            cls.instances_tracked = tracked  # type: ignore[attr-defined]
        with contextlib.suppress(TypeError):  # a class whose instances take no weak reference: not tracked
            tracked.append(instance)
        return instance

    BaseModel.__new__ = staticmethod(__new__)  # type: ignore[method-assign,assignment]
    for models in model_data.values():  # classes created before the patch drop their strong lists
        for cls in models.values():
            if not isinstance(cls.__dict__.get("instances_tracked"), _LiveInstances):
                cls.instances_tracked = _LiveInstances()  # type: ignore[attr-defined]


class RecentSet:
    """A set that keeps its `limit` most recently added members (what SQS needs of deleted handles)."""

    def __init__(self, members: Iterable[str] = (), limit: int | None = None) -> None:
        self._members: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.limit = limit or DELETED_HANDLES_KEPT
        self.update(members)

    def add(self, member: str) -> None:
        self._members[member] = None
        self._members.move_to_end(member)
        while len(self._members) > self.limit:
            self._members.popitem(last=False)

    def update(self, members: Iterable[str]) -> None:
        for member in members:
            self.add(member)

    def discard(self, member: str) -> None:
        self._members.pop(member, None)

    def __contains__(self, member: object) -> bool:
        return member in self._members

    def __iter__(self) -> Any:
        return iter(list(self._members))

    def __len__(self) -> int:
        return len(self._members)


def _bound_sqs_deleted_handles() -> None:
    from moto.sqs.models import Queue

    original_init = Queue.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.deleted_messages = RecentSet(self.deleted_messages)

    Queue.__init__ = __init__  # type: ignore[method-assign]


def _expire_shard_iterators() -> None:
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    original_init = ShardIterator.__init__
    original_get = DynamoDBStreamsBackend.get_shard_iterator
    original_records = DynamoDBStreamsBackend.get_records

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.created = time.monotonic()

    def expire(backend: Any) -> None:
        oldest = time.monotonic() - SHARD_ITERATOR_SECONDS
        if getattr(backend, "_next_expiry", 0) > time.monotonic():
            return
        backend._next_expiry = time.monotonic() + 60  # sweep at most once a minute
        for arn, iterator in list(backend.shard_iterators.items()):
            if getattr(iterator, "created", oldest) < oldest:
                backend.shard_iterators.pop(arn, None)

    def get_shard_iterator(self: Any, *args: Any, **kwargs: Any) -> Any:
        expire(self)
        return original_get(self, *args, **kwargs)

    def get_records(self: Any, *args: Any, **kwargs: Any) -> Any:
        expire(self)
        return original_records(self, *args, **kwargs)

    ShardIterator.__init__ = __init__  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_shard_iterator = get_shard_iterator  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign]


class CompactEvents(list):  # type: ignore[type-arg]
    """An archive's events as JSON text; iterating yields the events (dicts) again."""

    def append(self, event: Any) -> None:
        super().append(json.dumps(event, separators=(",", ":"), default=str))

    def __iter__(self) -> Any:
        for text in super().__iter__():
            yield json.loads(text) if isinstance(text, str) else text

    def __getitem__(self, index: Any) -> Any:
        item = super().__getitem__(index)
        if isinstance(index, slice):
            return [json.loads(t) if isinstance(t, str) else t for t in item]
        return json.loads(item) if isinstance(item, str) else item


def _compact_archives() -> None:
    from moto.events.models import Archive

    original_init = Archive.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.events = CompactEvents(self.events)

    Archive.__init__ = __init__  # type: ignore[method-assign]
