"""What happened to every event: publishes, invocations, per-record outcomes, failure reasons.

The runtime writes here; the control endpoint and `trace` read from it.

    journal.trace("0b5f...")   # every publish and invocation the event (and what it caused) reached
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from devtools.local.functions import Invocation

# The journal is bounded so that a runtime under load keeps flat memory (make bench-soak): about
# 5 KiB an invocation in memory, so 5,000 of them (the last ~6 minutes at 2 orders/s, hours of
# ordinary use) and the events published and failure reasons of about as many; log lines for the
# most recent 1,000 only (every line is in the function's log file; the reasons `dlq list` shows
# are taken from the lines when the invocation ends). 20,000 cost ~100 MiB, reached after 25 min.
MAX_INVOCATIONS = 5_000
MAX_PUBLISHES = 10_000
MAX_FAILURES = 10_000
KEEP_LOGS = 1_000


@dataclass
class RecordOutcome:
    id: str
    keys: list[str]
    ok: bool
    reason: str = ""
    queued_ms: float | None = None  # from entering the queue/stream to handler start
    receive_count: int | None = None


@dataclass
class InvocationEntry:
    seq: int
    function: str
    trigger: str
    invocation: Invocation
    records: list[RecordOutcome] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        inv = self.invocation
        return {
            "seq": self.seq,
            "function": self.function,
            "trigger": self.trigger,
            "request_id": inv.request_id,
            "started": inv.started,
            "duration_ms": inv.duration_ms,
            "cold": inv.cold,
            "init_ms": inv.init_ms,
            "environment": inv.environment,
            "ok": inv.ok,
            "error": inv.error_text or None,
            "max_rss_mb": inv.max_rss_mb,
            "note": self.note,
            "records": [r.__dict__ for r in self.records],
            "emits": inv.calls,
        }


@dataclass
class Failure:
    function: str
    message_id: str
    reason: str
    at: float
    receive_count: int | None


def _trim(items: dict[str, Any], limit: int) -> None:
    """Drop the oldest entries (dicts keep insertion order) beyond `limit`."""
    while len(items) > limit:
        del items[next(iter(items))]


class Journal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self.invocations: deque[InvocationEntry] = deque(maxlen=MAX_INVOCATIONS)
        self.publishes: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, Failure] = {}  # by SQS message id: the last reason it failed
        self.redriven: dict[str, str] = {}  # new message id -> DLQ message id
        self._changed = threading.Condition(self._lock)

    # ------------------------------------------------------------------ writing

    def add_invocation(
        self,
        function: str,
        trigger: str,
        invocation: Invocation,
        records: list[RecordOutcome] | None = None,
        note: str = "",
    ) -> InvocationEntry:
        with self._lock:
            self._seq += 1
            entry = InvocationEntry(self._seq, function, trigger, invocation, records or [], note)
            self.invocations.append(entry)
            if len(self.invocations) > KEEP_LOGS:
                self.invocations[-KEEP_LOGS - 1].invocation.log = []
            for rec in entry.records:
                if not rec.ok:
                    self.failures.pop(rec.id, None)  # re-inserted last: the oldest go first
                    self.failures[rec.id] = Failure(function, rec.id, rec.reason, time.time(), rec.receive_count)
            _trim(self.failures, MAX_FAILURES)
            self._changed.notify_all()
            return entry

    def add_publish(self, event: dict[str, Any], sent_at: float) -> None:
        detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
        meta = detail.get("metadata") if isinstance(detail.get("metadata"), dict) else {}
        entry = {
            "id": event.get("id"),
            "source": event.get("source"),
            "detail_type": event.get("detail-type"),
            "published": sent_at,
            "event_id": meta.get("event_id"),
            "correlation_id": meta.get("correlation_id"),
            "causation_id": meta.get("causation_id"),
            "bus": event.get("bus"),
        }
        with self._lock:
            self.publishes[entry["id"]] = entry
            _trim(self.publishes, MAX_PUBLISHES)
            self._changed.notify_all()

    def add_redrive(self, dlq_message_id: str, new_message_id: str) -> None:
        with self._lock:
            self.redriven[new_message_id] = dlq_message_id

    # ------------------------------------------------------------------ reading

    def wait(self, predicate, timeout: float) -> bool:
        """Block until predicate(journal) is true (re-checked on every change) or the timeout passes."""
        deadline = time.time() + timeout
        with self._lock:
            while True:
                if predicate(self):
                    return True
                remaining = deadline - time.time()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))

    def entries(self, function: str | None = None) -> list[InvocationEntry]:
        return [e for e in list(self.invocations) if function is None or e.function == function]

    def failure_reason(self, message_id: str) -> Failure | None:
        seen = set()
        while message_id and message_id not in seen:
            seen.add(message_id)
            if message_id in self.failures:
                return self.failures[message_id]
            message_id = self.redriven.get(message_id, "")
        return None

    def trace(self, key: str) -> list[dict[str, Any]]:
        """Timeline of everything `key` reached, following the events it caused, oldest first."""
        ids = {key}
        steps: dict[tuple[str, Any], dict[str, Any]] = {}
        invocations = list(self.invocations)
        publishes = list(self.publishes.values())
        for _ in range(50):  # follow causation to a fixed point
            before = len(ids), len(steps)
            for new, old in list(self.redriven.items()):
                if new in ids or old in ids:
                    ids.update((new, old))
            for pub in publishes:
                if ids & {pub["id"], pub["event_id"]} or pub["causation_id"] in ids:
                    ids.update(k for k in (pub["id"], pub["event_id"]) if k)
                    steps[("publish", pub["id"])] = {"kind": "publish", "at": pub["published"], **pub}
            for entry in invocations:
                matched = [r for r in entry.records if ids & set(r.keys)]
                if not matched and entry.invocation.request_id not in ids:
                    continue
                step = entry.to_dict()
                step["records"] = [r.__dict__ for r in matched] or step["records"]
                steps[("invoke", entry.seq)] = {"kind": "invoke", "at": entry.invocation.started, **step}
                for rec in matched:
                    ids.update(rec.keys)
                for call in entry.invocation.calls:
                    for ev in call.get("events", []):
                        causes = ev.get("causation_id")
                        if causes is None or causes in ids or len(matched) == len(entry.records):
                            ids.update(k for k in (ev.get("id"), ev.get("event_id")) if k)
                    ids.update(k for k in call.get("keys", []) if k)
            if (len(ids), len(steps)) == before:
                break
        return sorted(steps.values(), key=lambda s: (s["at"] or 0, s["kind"] != "publish"))
