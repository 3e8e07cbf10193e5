"""moto's costs per request stay flat as the data grows, and small: see `patch()` and `patch_server()`.

`devtools.local.motoserver.apply_patches()` applies `patch()` (the runtime's moto server and the
test kit); `motoserver.main()` applies `patch_server()` (the HTTP dispatcher exists only there).
Measured under `make bench-soak` by counting moto's requests and their CPU per action.
"""

from __future__ import annotations

import threading
from typing import Any

_patched = False
_server_patched = False
_MISSING = object()
_partition = threading.local()  # the items a Query on the base table may read, in this thread


def patch() -> None:
    """DynamoDB Query on a table (not an index) reads the queried partition only.

    moto 5.2.5 answers every Query by sorting every item of the table (`Table.all_items()`) and
    keeping those with the hash key: O(table size) per call, so the cost of loading one order's
    event stream grew with every order placed (11 ms a Query after ~200 orders under the soak,
    the most expensive action per call, and rising). DynamoDB reads one partition. Now the
    base-table path sees the partition's items (sorted by range key, as before) and does the rest
    as moto does (conditions, order, paging, filters, projections): same results. Index queries
    and Scan are unchanged (they do read the whole table). The DynamoDB request lock
    (moto_dynamodb) is held while moto serves the Query.
    """
    global _patched  # noqa: PLW0603 - patch once per process
    if _patched:
        return
    _patched = True
    from moto.dynamodb.models.table import Table

    original_all_items = Table.all_items
    original_query = Table.query

    def all_items(self: Any) -> Any:
        only = getattr(_partition, "only", None)
        if only is not None and only[0] is self:
            return list(only[1])
        return original_all_items(self)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        bucket = self.items.get(hash_key)  # .get: `items` is a defaultdict
        if bucket is None:
            items = []
        elif self.range_key_attr:
            items = sorted(bucket.values(), key=lambda item: item.range_key)
        else:
            items = [bucket]
        _partition.only = (self, items)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _partition.only = None

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]


def patch_server() -> None:
    """moto 5.2.5's DomainDispatcherApplication, for every request and under one global lock, asks
    `host in backends.list_of_moto_modules()`: a generator that lists moto's package folder and
    stats each of its ~200 entries, then tries ~900 URL patterns, and does it all again with the
    host it inferred from the request's signature. Measured: 3.3 ms a request, on one core, while
    every other request waits for the lock (after: 3 µs). The module list never changes while
    moto runs and the URL patterns are fixed, so both are computed once (per host): same answers.
    """
    global _server_patched  # noqa: PLW0603 - patch once per process
    if _server_patched:
        return
    _server_patched = True
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    modules = frozenset(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment,return-value]

    original = DomainDispatcherApplication.get_backend_for_host

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host is None:
            return None
        cache = self.__dict__.setdefault("_backend_for_host", {})
        backend = cache.get(host, _MISSING)
        if backend is _MISSING:
            backend = cache[host] = original(self, host)
        return backend

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
