"""The local runtime's state survives a restart: snapshots of moto's backends plus the runtime's own state.

    make local                          # brings back what the last run left in .local/state/
    make local LOCAL_ARGS=--fresh       # starts empty

What is saved (one file, `<state-dir>/state/moto.pickle`, replaced atomically):
- moto: every backend moto created (DynamoDB tables with their items and streams, S3 buckets
  and objects, SQS queues with their messages, in flight or not, EventBridge buses, rules and
  the archive, SNS, SES sent mail, secrets, Lambda/IAM/Scheduler records...), pickled as they
  are in memory. Restored before moto serves its first request.
- the runtime (`RuntimeState`): each stream poller's checkpoint (the sequence number of the last
  record it is done with, per shard) and the journal (`trace`, `dlq list` reasons), without the
  invocations' log lines (those are in `<state-dir>/logs`).

When: every `snapshot_seconds` (DEFAULT_SNAPSHOT_SECONDS; `up --snapshot-seconds`), when the
runtime stops (Ctrl-C, SIGTERM: after its pollers and workers have stopped, so the checkpoints
are final), and by moto itself when the runtime disappears without stopping it (its stdin closes:
the runtime crashed or was killed with SIGKILL alone). A kill -9 of everything (power loss, OOM
killer) loses at most the last interval: whatever moto accepted since the last snapshot.

Consistency: a snapshot is taken with every moto request held (`Gate`: requests share it, the
snapshot takes it alone once the requests being served have finished; an SQS long poll gives it
up while it only waits), so no table, queue or stream is caught half-written. moto then forks:
the child pickles its copy-on-write image of the state and writes the file while the parent
serves again, so requests wait for the fork (milliseconds), not for the pickling. The
runtime's part is collected *before* the runtime asks for the snapshot: a checkpoint is never
ahead of the stream it points into. After a restore, stream records handled between the two
moments are delivered again (at least once, as Lambda does after a crash), never skipped.

On restore:
- SQS messages that were in flight (received by a poller that is gone) become visible again as
  SQS makes them after their visibility timeout; with the runtime's `--retry-after S` (the local
  shortcut for failed records) after at most S seconds.
- stream pollers resume after their checkpoint (AFTER_SEQUENCE_NUMBER); a poller without one
  starts at its mapping's starting position, as a new mapping does.
- provisioning runs again over the restored resources as `terraform apply` does over existing
  ones: what exists is kept (with its data), what the manifests added since is created
  (`IdempotentClients`).
- function workers hold nothing durable: they start cold.

Why pickle and not a replay of moto's request recorder or a per-service export: DECISIONS.md #16.
"""

from __future__ import annotations

import collections
import contextlib
import copyreg
import gc
import importlib
import io
import json
import os
import pickle
import struct
import threading
import time
import traceback
import urllib.request
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devtools.local.runtime import Runtime

DEFAULT_SNAPSHOT_SECONDS = 30.0
STATE_DIR = "state"  # under the runtime's state directory
SNAPSHOT_FILE = "moto.pickle"
MAGIC = b"eda-local-state 1\n"
_HEADER = struct.Struct("!QQ")  # lengths of the runtime's part and moto's part
ROUTE_SNAPSHOT = "/_local/state/snapshot"
ROUTE_INFO = "/_local/state"


def snapshot_path(state_dir: Path) -> Path:
    return Path(state_dir) / STATE_DIR / SNAPSHOT_FILE


# ============================================================================ the file


def write_snapshot(path: Path, runtime_part: bytes, moto_part: bytes) -> int:
    """Replace `path` atomically (write a temporary file, fsync, rename); returns its size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(MAGIC)
        fh.write(_HEADER.pack(len(runtime_part), len(moto_part)))
        fh.write(runtime_part)
        fh.write(moto_part)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # the rename itself, durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return len(MAGIC) + _HEADER.size + len(runtime_part) + len(moto_part)


def read_snapshot(path: Path, *, moto: bool = True) -> tuple[bytes, bytes] | None:
    """(runtime part, moto part) of a snapshot file; None when there is none. `moto=False` skips moto's part."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    with fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise ValueError(f"{path} is not a local runtime snapshot (start with --fresh to discard it)")
        runtime_len, moto_len = _HEADER.unpack(fh.read(_HEADER.size))
        runtime_part = fh.read(runtime_len)
        moto_part = fh.read(moto_len) if moto else b""
    if len(runtime_part) != runtime_len or (moto and len(moto_part) != moto_len):
        raise ValueError(f"{path} is truncated (start with --fresh to discard it)")
    return runtime_part, moto_part


# ============================================================================ moto's side (its own process)


class Gate:
    """Every moto request holds the gate shared; a snapshot holds it alone.

    A snapshot waits for the requests being served while new requests wait for the snapshot
    (writer preference: a busy server cannot starve it). A request that only waits (an SQS long
    poll between its looks at the queue: `paused()`) lets a snapshot go meanwhile.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._serving = 0
        self._exclusive = False
        self._waiting = 0
        self._held = threading.local()  # whether this thread holds the gate shared
        self.requests = 0  # served since the last snapshot
        self.requests_total = 0  # since moto started

    def _enter(self) -> None:
        with self._cond:
            while self._exclusive or self._waiting:
                self._cond.wait()
            self._serving += 1
        self._held.value = True

    def _leave(self) -> None:
        self._held.value = False
        with self._cond:
            self._serving -= 1
            if not self._serving:
                self._cond.notify_all()

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        self._enter()
        with self._cond:
            self.requests += 1
            self.requests_total += 1
        try:
            yield
        finally:
            self._leave()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Inside a request: give the gate up while waiting (touching no state), take it back after."""
        if not getattr(self._held, "value", False):
            yield
            return
        self._leave()
        try:
            yield
        finally:
            self._enter()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[float]:
        """Yields how long it waited for the requests being served, in seconds."""
        t0 = time.perf_counter()
        with self._cond:
            self._waiting += 1
            try:
                while self._exclusive or self._serving:
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._exclusive = True
        waited = time.perf_counter() - t0
        try:
            yield waited
        finally:
            with self._cond:
                self._exclusive = False
                self.requests = 0
                self._cond.notify_all()


def _lock_reducer(factory: Callable[[], Any]) -> Callable[[Any], tuple[Any, tuple[()]]]:
    return lambda _obj: (factory, ())


def _dispatch_table() -> dict[Any, Any]:
    """Locks and conditions (SQS queues, S3 keys hold some) are pickled as new, unlocked ones, weak containers as
    new ones over the same objects."""
    table = copyreg.dispatch_table.copy()
    table[type(threading.Lock())] = _lock_reducer(threading.Lock)
    table[type(threading.RLock())] = _lock_reducer(threading.RLock)
    table[threading.Condition] = _lock_reducer(threading.Condition)
    table[threading.Event] = _lock_reducer(threading.Event)
    table[threading.Semaphore] = _lock_reducer(threading.Semaphore)
    # Weak containers (Lambda's functions by ARN) keep what the rest of the state holds strongly.
    table[weakref.WeakValueDictionary] = lambda d: (weakref.WeakValueDictionary, (dict(d.items()),))
    table[weakref.WeakKeyDictionary] = lambda d: (weakref.WeakKeyDictionary, (dict(d.items()),))
    table[weakref.WeakSet] = lambda s: (weakref.WeakSet, (list(s),))
    table[collections.defaultdict] = _reduce_defaultdict
    return table


def _reduce_defaultdict(d: collections.defaultdict[Any, Any]) -> tuple[Any, ...]:
    """A lambda cannot be pickled: `defaultdict(lambda: {})` (Lambda's aliases) is saved as `defaultdict(dict)`."""
    factory = d.default_factory
    if getattr(factory, "__name__", "") == "<lambda>":
        sample = factory()  # type: ignore[misc]
        if type(sample) in (dict, list, set) and not sample:
            factory = type(sample)
    return collections.defaultdict, (factory,), None, None, iter(d.items())


# BackendDict attributes that come from its constructor (the others, like S3's bucket_accounts, are state).
_BACKEND_DICT_FIELDS = frozenset({"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"})


def _backend_key(backend_dict: Any) -> tuple[str, str, str]:
    cls = backend_dict.backend
    return cls.__module__, cls.__qualname__, backend_dict.service_name


def moto_state() -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every backend moto created in this process: {(module, class, service): {"accounts": ..., "extra": ...}}."""
    from moto.core.base_backend import BackendDict

    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for backend_dict in list(BackendDict._instances):  # type: ignore[misc]
        accounts = {account: dict(regions) for account, regions in backend_dict.items()}
        extra = {k: v for k, v in vars(backend_dict).items() if k not in _BACKEND_DICT_FIELDS}
        out[_backend_key(backend_dict)] = {"accounts": accounts, "extra": extra}
    return out


def dump_moto() -> bytes:
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table()  # type: ignore[assignment]
    pickler.dump(moto_state())
    return buf.getvalue()


def _find_backend_dict(module: str, qualname: str, service: str) -> Any:
    from moto.core.base_backend import BackendDict

    mod = importlib.import_module(module)
    for value in vars(mod).values():
        if isinstance(value, BackendDict) and value.backend.__qualname__ == qualname and value.service_name == service:
            return value
    from moto.backends import get_backend

    return get_backend(service)  # type: ignore[call-overload]


def install_moto(data: bytes) -> dict[str, int]:
    """Put the pickled backends in place of this process's (before the server serves anything)."""
    state = pickle.loads(data)  # our own file, in the user's state directory
    counts: dict[str, int] = {}
    for (module, qualname, service), saved in state.items():
        backend_dict = _find_backend_dict(module, qualname, service)
        for account, regions in saved["accounts"].items():
            account_backends = backend_dict[account]  # creates the account's (empty) entry
            dict.clear(account_backends)
            for region, backend in regions.items():
                dict.__setitem__(account_backends, region, backend)
        for name, value in saved["extra"].items():
            setattr(backend_dict, name, value)
        counts[service] = sum(len(r) for r in saved["accounts"].values())
    return counts


def release_in_flight(visible_within: float | None) -> int:
    """SQS messages in flight when the snapshot was taken: their receivers are gone.

    They stay invisible until their visibility timeout passes, as in SQS; with the runtime's
    retry_after (`visible_within`) at most that many seconds from now. Returns how many.
    """
    from moto.sqs.models import sqs_backends

    now_ms = time.time() * 1000
    count = 0
    for _account, _region, backend in sqs_backends.iter_backends():
        for queue in backend.queues.values():
            for message in queue._messages:
                if message.visible_at > now_ms:
                    count += 1
                    if visible_within is not None:
                        message.visible_at = min(message.visible_at, now_ms + visible_within * 1000)
    return count


def forget_shard_iterators() -> None:
    """Shard iterators belong to the readers of the old process (AWS expires them after 15 min anyway)."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    for _account, _region, backend in dynamodbstreams_backends.iter_backends():
        backend.shard_iterators.clear()


class MotoState:
    """In moto's process: restore at start, snapshot on request, at exit, and the gate."""

    def __init__(self, path: Path, visible_within: float | None = None, *, fork: bool | None = None) -> None:
        self.path = Path(path)
        self.visible_within = visible_within
        self.fork = hasattr(os, "fork") if fork is None else fork
        self.gate = Gate()
        self.runtime_part = b""  # the last runtime state the runtime sent (or the one restored)
        self.final = False  # the runtime took its final snapshot: nothing to save at exit
        self.restored: dict[str, Any] = {}
        self.last: dict[str, Any] = {}
        self._lock = threading.Lock()  # one snapshot at a time

    def restore(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        parts = read_snapshot(self.path)
        if parts is None:
            return {}
        self.runtime_part, moto_part = parts
        counts = install_moto(moto_part)
        forget_shard_iterators()
        in_flight = release_in_flight(self.visible_within)
        if self.fork:
            _freeze_long_lived()
        self.restored = {
            "bytes": len(moto_part) + len(self.runtime_part),
            "seconds": round(time.perf_counter() - t0, 3),
            "backends": counts,
            "in_flight": in_flight,
        }
        return self.restored

    def snapshot(self, runtime_part: bytes | None = None, *, final: bool = False) -> dict[str, Any]:
        """Pickle moto's state as it is now and write the file; returns the figures.

        With `fork` (the server), moto forks while every request is held and the child pickles
        and writes its copy-on-write image of the state: requests wait only for the fork, not
        for the pickling (which grows with the state: 0.6 s for 8 MB under load).
        """
        with self._lock:
            if runtime_part is not None:
                self.runtime_part = runtime_part
            t0 = time.perf_counter()
            child = 0
            with self.gate.exclusive() as waited:
                t1 = time.perf_counter()
                if self.fork:
                    child = os.fork()
                    if child == 0:  # the child: one thread, the state frozen as it was at the fork
                        code = 1
                        try:
                            write_snapshot(self.path, self.runtime_part, dump_moto())
                            code = 0
                        except BaseException:
                            traceback.print_exc()
                        finally:
                            os._exit(code)
                    _freeze_long_lived()
                else:
                    moto_part = dump_moto()
                t2 = time.perf_counter()
            if child:
                _, status = os.waitpid(child, 0)
                if os.waitstatus_to_exitcode(status) != 0:
                    raise RuntimeError(f"the snapshot process failed (status {status}); {self.path} unchanged")
                size = self.path.stat().st_size
            else:
                size = write_snapshot(self.path, self.runtime_part, moto_part)
            self.final = final
            self.last = {
                "at": time.time(),
                "bytes": size,
                "waited_ms": round(waited * 1000, 1),  # for the requests being served
                "paused_ms": round((t2 - t0) * 1000, 1),  # requests waited at most this long
                "total_ms": round((time.perf_counter() - t0) * 1000, 1),
                "fork": bool(child),
            }
            if not child:
                self.last["pickle_ms"] = round((t2 - t1) * 1000, 1)
            return self.last

    def at_exit(self) -> None:
        """moto is stopping: save unless the runtime's final snapshot already holds everything."""
        if self.final and not self.gate.requests:
            return
        with contextlib.suppress(Exception):
            self.snapshot()

    def wsgi(self, app: Any) -> Any:
        """`app` behind the gate, with the snapshot routes in front."""
        state = self
        _long_polls_release_the_gate(self.gate)

        def application(environ: dict[str, Any], start_response: Any) -> Any:
            path = environ.get("PATH_INFO")
            if path == ROUTE_SNAPSHOT and environ.get("REQUEST_METHOD") == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = environ["wsgi.input"].read(length) if length else None
                final = environ.get("HTTP_X_FINAL") == "1"
                try:
                    result, status = state.snapshot(body, final=final), "200 OK"
                except Exception as exc:  # reported to the runtime, which logs it
                    result, status = {"error": f"{type(exc).__name__}: {exc}"}, "500 Internal Server Error"
                return _json(start_response, status, result)
            if path == ROUTE_INFO:
                info = {
                    "path": str(state.path),
                    "restored": state.restored,
                    "last": state.last,
                    "requests": state.gate.requests_total,
                }
                return _json(start_response, "200 OK", info)
            with state.gate.shared():
                result = app(environ, start_response)
                try:
                    return [b"".join(result)]  # served entirely under the gate
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()

        return application


def _freeze_long_lived() -> None:
    """Leave what moto holds now out of the garbage collector's full collections (gc.freeze).

    moto's state is millions of small objects (an item is a dict of DynamoType objects); a full
    collection walks all of them with every request waiting (the GIL), and Python runs one each
    time the objects grow by a quarter: under the soak, pauses of seconds that came back every
    few minutes and grew with the state. Called with every request held (no request's objects
    are caught in it), after each snapshot and the restore; what is frozen is still freed by
    reference counting when moto drops it (none of moto's state models form cycles that die).
    """
    gc.collect(0)
    gc.freeze()


def _long_polls_release_the_gate(gate: Gate) -> None:
    """An SQS ReceiveMessage with WaitTimeSeconds waits on its queue between looks: a snapshot
    need not wait up to that long for it (measured: 0.9 s of each pause under the soak)."""
    from moto.sqs.models import Queue

    original = Queue.wait_for_messages
    if getattr(original, "_releases_gate", False):
        return

    def wait_for_messages(self: Any, timeout: int) -> None:
        with gate.paused():
            original(self, timeout)

    wait_for_messages._releases_gate = True  # type: ignore[attr-defined]
    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]


def _json(start_response: Any, status: str, payload: Any) -> list[bytes]:
    body = json.dumps(payload, default=str).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


# ============================================================================ the runtime's side


class RuntimeState:
    """The runtime's own part of a snapshot, and the thread that takes snapshots."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.path = snapshot_path(runtime.config.state_dir)
        self.checkpoints: dict[str, dict[str, str]] = {}  # restored: function -> shard -> sequence number
        self.last: dict[str, Any] = {}
        self.errors = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- at start
    def discard(self) -> None:
        for name in (SNAPSHOT_FILE, SNAPSHOT_FILE + ".tmp"):
            with contextlib.suppress(FileNotFoundError):
                (self.path.parent / name).unlink()

    def load(self) -> bool:
        """Read the runtime's part of the last snapshot (moto reads its own). False: nothing to restore."""
        parts = read_snapshot(self.path, moto=False)
        if parts is None:
            return False
        saved = pickle.loads(parts[0]) if parts[0] else {}  # our own file
        self.checkpoints = saved.get("checkpoints", {})
        journal = saved.get("journal")
        if journal:
            restore_journal(self.runtime.journal, journal)
        return True

    # -- snapshots
    def collect(self) -> bytes:
        rt = self.runtime
        checkpoints = {
            t.name_: dict(t.checkpoints)  # type: ignore[attr-defined]
            for t in rt._threads
            if hasattr(t, "checkpoints")
        }
        # A poller that has not run since the restore keeps its restored checkpoint.
        for name, shards in self.checkpoints.items():
            for shard, seq in shards.items():
                checkpoints.setdefault(name, {}).setdefault(shard, seq)
        return pickle.dumps(
            {"saved_at": time.time(), "checkpoints": checkpoints, "journal": export_journal(rt.journal)},
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    def snapshot(self, *, final: bool = False) -> dict[str, Any]:
        body = self.collect()  # before moto's part: checkpoints never ahead of the streams
        request = urllib.request.Request(
            self.runtime.moto_url + ROUTE_SNAPSHOT,
            data=body,
            method="POST",
            headers={"Content-Type": "application/octet-stream", **({"X-Final": "1"} if final else {})},
        )
        with urllib.request.urlopen(request, timeout=300) as resp:
            self.last = json.loads(resp.read())
        self.last["runtime_bytes"] = len(body)
        return self.last

    def start(self, every: float) -> None:
        if every <= 0:
            return
        self._thread = threading.Thread(target=self._loop, args=(every,), name="snapshots", daemon=True)
        self._thread.start()

    def _loop(self, every: float) -> None:
        import logging

        log = logging.getLogger("devtools.local")
        while not self._stop.wait(every):
            try:
                self.snapshot()
            except Exception as exc:
                self.errors += 1
                log.warning("state snapshot failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=300)


def export_journal(journal: Any) -> dict[str, Any]:
    """The journal without the invocations' log lines (they are in the function logs)."""
    import dataclasses

    with journal._lock:
        entries = list(journal.invocations)
        publishes = dict(journal.publishes)
        failures = dict(journal.failures)
        redriven = dict(journal.redriven)
        seq = journal._seq
    light = [dataclasses.replace(e, invocation=dataclasses.replace(e.invocation, log=[])) for e in entries]
    return {"seq": seq, "invocations": light, "publishes": publishes, "failures": failures, "redriven": redriven}


def restore_journal(journal: Any, saved: dict[str, Any]) -> None:
    with journal._lock:
        journal._seq = max(journal._seq, saved.get("seq", 0))
        journal.invocations.extendleft(reversed(saved.get("invocations", [])))
        for name in ("publishes", "failures", "redriven"):
            restored = dict(saved.get(name, {}))
            restored.update(getattr(journal, name))
            setattr(journal, name, restored)


# ============================================================================ provisioning over restored state


class IdempotentClients:
    """The runtime's clients for provisioning over restored resources: create what is missing, keep what exists.

    Terraform's apply over existing resources, for the calls provision.py makes: a create that
    finds the resource answers with the existing one (CreateTable -> DescribeTable, CreateSecret
    -> DescribeSecret, CreateEventSourceMapping -> the existing mapping, ...); settings calls
    (PutRule, PutTargets, SetQueueAttributes...) apply as they are. Two calls would destroy
    state and are skipped when their resource was restored: PurgeQueue (provisioning purges S3's
    test event from new notification queues; a restored queue holds real messages) and
    PutBucketNotificationConfiguration when the bucket's configuration is already that one (S3
    would send a new test event).
    """

    def __init__(self, clients: Any) -> None:
        self._clients = clients
        self._restored_queues: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return _Idempotent(self, name, getattr(self._clients, name))


_EXISTS = {
    "ResourceInUseException",  # dynamodb
    "ResourceAlreadyExistsException",  # events
    "ResourceExistsException",  # secretsmanager
    "EntityAlreadyExists",  # iam
    "ResourceConflictException",  # lambda
    "ConflictException",  # scheduler
    "BucketAlreadyOwnedByYou",  # s3
    "QueueAlreadyExists",  # sqs (attributes differ)
}


class _Idempotent:
    def __init__(self, owner: IdempotentClients, service: str, client: Any) -> None:
        self._owner = owner
        self._service = service
        self._client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        special = getattr(self, f"_{self._service}_{name}", None)
        if special is not None:
            return lambda **kw: special(method, **kw)
        if not name.startswith("create_"):
            return method

        def call(**kwargs: Any) -> Any:
            try:
                return method(**kwargs)
            except self._client.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in _EXISTS:
                    raise
                return self._existing(name, kwargs)

        return call

    def _existing(self, name: str, kwargs: dict[str, Any]) -> Any:
        c = self._client
        if (self._service, name) == ("dynamodb", "create_table"):
            return {"TableDescription": c.describe_table(TableName=kwargs["TableName"])["Table"]}
        if (self._service, name) == ("secretsmanager", "create_secret"):
            return {"ARN": c.describe_secret(SecretId=kwargs["Name"])["ARN"]}
        if (self._service, name) == ("scheduler", "create_schedule"):
            return {"ScheduleArn": c.get_schedule(Name=kwargs["Name"])["Arn"]}
        if (self._service, name) == ("events", "create_event_bus"):
            return c.describe_event_bus(Name=kwargs["Name"])
        if (self._service, name) == ("sqs", "create_queue"):
            url = c.get_queue_url(QueueName=kwargs["QueueName"])["QueueUrl"]
            c.set_queue_attributes(QueueUrl=url, Attributes=kwargs.get("Attributes", {}))
            return {"QueueUrl": url}
        return {}

    # -- special cases
    def _sqs_create_queue(self, method: Any, **kwargs: Any) -> Any:
        c = self._client
        with contextlib.suppress(c.exceptions.QueueDoesNotExist):
            url = c.get_queue_url(QueueName=kwargs["QueueName"])["QueueUrl"]
            self._owner._restored_queues.add(url)
            if kwargs.get("Attributes"):
                c.set_queue_attributes(QueueUrl=url, Attributes=kwargs["Attributes"])
            return {"QueueUrl": url}
        return method(**kwargs)

    def _sqs_purge_queue(self, method: Any, **kwargs: Any) -> Any:
        if kwargs["QueueUrl"] in self._owner._restored_queues:
            return {}
        return method(**kwargs)

    def _s3_put_bucket_notification_configuration(self, method: Any, **kwargs: Any) -> Any:
        current = self._client.get_bucket_notification_configuration(Bucket=kwargs["Bucket"])
        current.pop("ResponseMetadata", None)
        if _same_notifications(current, kwargs["NotificationConfiguration"]):
            return {}
        return method(**kwargs)

    def _lambda_create_event_source_mapping(self, method: Any, **kwargs: Any) -> Any:
        existing = self._client.list_event_source_mappings(
            FunctionName=kwargs["FunctionName"], EventSourceArn=kwargs["EventSourceArn"]
        ).get("EventSourceMappings", [])
        if existing:
            return existing[0]
        return method(**kwargs)


def _same_notifications(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    def norm(config: dict[str, Any]) -> Any:
        out = {}
        for key, value in config.items():
            if isinstance(value, list):
                out[key] = sorted(json.dumps(v, sort_keys=True) for v in value)
            else:
                out[key] = json.dumps(value, sort_keys=True)
        return {k: v for k, v in out.items() if v not in ([], "{}") or k == "EventBridgeConfiguration"}

    return norm(current) == norm(wanted)
