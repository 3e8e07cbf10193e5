"""Event source mappings: poll SQS queues and DynamoDB streams like Lambda does, run schedules.

SQS (eventbridge, sns and s3 triggers): receive up to `batch_size` messages, waiting at most
`batching_window_seconds` to fill the batch; invoke; with ReportBatchItemFailures semantics
delete only the records that succeeded. Failed records stay in the queue and become visible
again after the visibility timeout (or after `retry_after` seconds when that local switch is
set); SQS's redrive policy moves a record to the DLQ after `max_receive_count` receives.

Like Lambda's pollers, an SQS mapping keeps several batches in flight: up to the function's
concurrency (reserved_concurrency, the trigger's maximum_concurrency, the runtime's cap), each
on its own execution environment. With a concurrency of 1 batches are strictly one at a time.

DynamoDB streams: read each shard in order, one batch at a time per shard; a failed batch is
retried from the first failed record (ReportBatchItemFailures) up to `maximum_retry_attempts`,
blocking the shard meanwhile.

Schedules: rate() and cron() on the runtime's schedule clock (`--schedule-speed`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devtools.local import events
from devtools.local.journal import RecordOutcome
from devtools.local.provision import stream_mapping_settings
from devtools.local.schedules import Schedule

if TYPE_CHECKING:
    from devtools.local.functions import FunctionHost, Invocation
    from devtools.local.provision import FunctionWiring
    from devtools.local.runtime import Runtime

log = logging.getLogger("devtools.local")
WINDOW_POLL_SECONDS = 0.25  # how often a poller gathering a batch (batching window < 1 s left) looks again


@dataclass
class Faults:
    """Fault injection switches (all off by default). `functions` limits them to some functions."""

    duplicate_rate: float = 0.0  # share of successfully processed SQS records delivered once more
    # Share of batches that fail once, before the handler runs. A record that already failed by
    # injection (or is being retried) is never failed again: faults delay and reorder work and
    # exercise retries, but cannot exhaust maxReceiveCount and push a record into a DLQ.
    failure_rate: float = 0.0
    latency_ms: float = 0.0  # added before every handler call (counts against the timeout)
    functions: list[str] = field(default_factory=list)
    seed: int | None = None
    # True: retries are failed again at the same rate (failure_rate 1.0 then drives records into
    # the DLQ, to exercise DLQs and redrive).
    fail_retries: bool = False

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self._failed: set[str] = set()  # record ids already failed by injection

    def applies(self, function: str) -> bool:
        return not self.functions or function in self.functions

    def roll(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    def fail_once(self, function: str, event: Any) -> bool:
        """Whether to fail this batch by injection: at most once per record, never a retry."""
        if not (self.failure_rate > 0 and self.applies(function)):
            return False
        records = event.get("Records") if isinstance(event, dict) else None
        if not records or self.fail_retries:
            return self.roll(self.failure_rate)
        ids = [r.get("messageId") or r.get("eventID") or "" for r in records]
        retried = any(r.get("attributes", {}).get("ApproximateReceiveCount", "1") != "1" for r in records)
        with self._lock:
            if retried or self._failed.intersection(ids) or not self.roll(self.failure_rate):
                return False
            self._failed.update(i for i in ids if i)
            return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "duplicate_rate": self.duplicate_rate,
            "failure_rate": self.failure_rate,
            "latency_ms": self.latency_ms,
            "functions": self.functions,
            "seed": self.seed,
            "fail_retries": self.fail_retries,
        }


def batch_failures(result: Any, record_ids: list[str]) -> set[str] | None:
    """Record ids a partial batch response reports as failed; None means "the whole batch failed".

    AWS: an empty/null response or list is full success; an itemIdentifier that is missing,
    empty or not in the batch makes the whole batch fail.
    """
    if not isinstance(result, dict) or result.get("batchItemFailures") is None:
        return set()
    items = result["batchItemFailures"]
    if not isinstance(items, list):
        return None
    failed = set()
    for item in items:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in record_ids:
            return None
        failed.add(ident)
    return failed


def failure_reason(invocation: Invocation, record_id: str) -> str:
    """Why one record failed: the handler's error, Powertools' exception, or a log line naming it."""
    if not invocation.ok:
        return invocation.error_text
    if record_id in invocation.reasons:
        return invocation.reasons[record_id]
    for line in reversed(invocation.log):
        if record_id in line:
            with contextlib.suppress(ValueError, AttributeError):
                data = json.loads(line)
                for key in ("reason", "error", "message"):
                    if data.get(key) and data[key] != record_id:
                        return str(data[key])
            return line.strip()[:500]
    return "reported in batchItemFailures (the handler logged no reason)"


class _Source(threading.Thread):
    def __init__(self, runtime: Runtime, wiring: FunctionWiring, host: FunctionHost) -> None:
        super().__init__(name=f"source-{wiring.qualified_name}", daemon=True)
        self.runtime = runtime
        self.wiring = wiring
        self.host = host
        self.trigger = wiring.function.trigger
        self.name_ = wiring.qualified_name
        self.enabled = True  # an event source mapping's Enabled flag

    @property
    def stopping(self) -> bool:
        return self.runtime.stopping.is_set()

    def invoke(self, event: dict[str, Any]) -> Invocation:
        faults = self.runtime.faults
        applies = faults.applies(self.name_)
        return self.host.invoke(
            event,
            latency_ms=faults.latency_ms if applies else 0,
            inject_failure=faults.fail_once(self.name_, event),
        )

    def run(self) -> None:
        while not self.stopping:
            if not self.enabled:
                self.runtime.stopping.wait(0.05)
                continue
            try:
                self.poll_once()
            except Exception as exc:
                if self.stopping:
                    return
                log.warning("%s: poller error: %s", self.name_, exc)
                self.runtime.stopping.wait(1)

    def poll_once(self) -> None:
        raise NotImplementedError


class SqsSource(_Source):
    def __init__(self, runtime: Runtime, wiring: FunctionWiring, host: FunctionHost) -> None:
        super().__init__(runtime, wiring, host)
        self.sqs = runtime.client("sqs")
        self._duplicates: list[dict[str, Any]] = []
        self._duplicates_lock = threading.Lock()
        # One slot per batch in flight: at most the function's concurrency.
        self.slots = threading.BoundedSemaphore(host.spec.concurrency)

    def _receive(self) -> list[dict[str, Any]]:
        batch_size = self.trigger.batch_size
        window = self.trigger.batching_window_seconds
        messages: list[dict[str, Any]] = []
        deadline: float | None = None
        while len(messages) < batch_size and not self.stopping:
            if deadline is None:
                wait = self.runtime.config.poll_wait_seconds
            else:
                remaining = deadline - time.time()
                if remaining <= 0:
                    break
                wait = int(remaining)  # SQS takes whole seconds
            got = self.sqs.receive_message(
                QueueUrl=self.wiring.queue_url,
                MaxNumberOfMessages=min(10, batch_size - len(messages)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                if deadline is None:
                    return messages
                if wait == 0:
                    # Gathering for the batching window: a look every 0.25 s. Every 20 ms cost moto
                    # ~50 ReceiveMessage calls per batch, most of its CPU under load (make bench-soak).
                    self.runtime.stopping.wait(min(WINDOW_POLL_SECONDS, max(0.0, deadline - time.time())))
                continue
            messages.extend(got)
            if deadline is None:
                if window == 0:
                    break
                deadline = time.time() + window
        return messages

    def poll_once(self) -> None:
        if not self.slots.acquire(timeout=0.25):
            return  # every slot busy: as many batches in flight as the function may run
        batch: list[dict[str, Any]] = []
        duplicate = False
        try:
            batch, duplicate = self._next_batch()
        finally:
            if batch:
                threading.Thread(
                    target=self._run_batch, args=(batch, duplicate), name=f"batch-{self.name_}", daemon=True
                ).start()
            else:
                self.slots.release()

    def _next_batch(self) -> tuple[list[dict[str, Any]], bool]:
        with self._duplicates_lock:
            if self._duplicates:
                size = self.trigger.batch_size
                batch, self._duplicates = self._duplicates[:size], self._duplicates[size:]
                return batch, True
        messages = self._receive()
        if messages and not self.enabled:  # disabled while polling: give the messages back untouched
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.wiring.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(messages)
                ],
            )
            return [], False
        region = self.runtime.config.region
        return [events.sqs_record(m, self.wiring.queue_arn or "", region) for m in messages], False

    def _run_batch(self, records: list[dict[str, Any]], duplicate: bool) -> None:
        try:
            self._process(records, duplicate)
        except Exception as exc:
            if not self.stopping:
                log.warning("%s: batch error: %s", self.name_, exc)
        finally:
            self.slots.release()

    def _process(self, records: list[dict[str, Any]], duplicate: bool = False) -> None:
        ids = [r["messageId"] for r in records]
        invocation = self.invoke({"Records": records})
        failed: set[str] | None = set(ids) if not invocation.ok else batch_failures(invocation.result, ids)
        whole_batch = failed is None
        if failed is None:
            failed = set(ids)
        outcomes = []
        for rec in records:
            sent = int(rec["attributes"].get("SentTimestamp", 0)) / 1000
            reason = ""
            if rec["messageId"] in failed:
                reason = failure_reason(invocation, rec["messageId"])
                if whole_batch and invocation.ok:
                    reason = f"invalid batchItemFailures response (whole batch failed): {reason}"
            outcomes.append(
                RecordOutcome(
                    id=rec["messageId"],
                    keys=events.record_keys(rec),
                    ok=rec["messageId"] not in failed,
                    reason=reason,
                    queued_ms=round((invocation.started - sent) * 1000, 1) if sent and not duplicate else None,
                    receive_count=int(rec["attributes"].get("ApproximateReceiveCount", 1)),
                )
            )
        note = "duplicate delivery (fault injection)" if duplicate else ""
        self.runtime.journal.add_invocation(self.name_, self.trigger.type, invocation, outcomes, note)
        if duplicate:
            return  # already deleted once: the receipt handles are stale
        done = [r for r in records if r["messageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.wiring.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            )
        retry_after = self.runtime.config.retry_after
        retry = [r for r in records if r["messageId"] in failed]
        if retry_after is not None and retry:
            for start in range(0, len(retry), 10):
                chunk = retry[start : start + 10]
                self.sqs.change_message_visibility_batch(
                    QueueUrl=self.wiring.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": int(retry_after)}
                        for i, r in enumerate(chunk)
                    ],
                )
        faults = self.runtime.faults
        if faults.duplicate_rate and faults.applies(self.name_):
            for rec in done:
                if faults.roll(faults.duplicate_rate):
                    copy = json.loads(json.dumps(rec))
                    count = int(copy["attributes"].get("ApproximateReceiveCount", "1")) + 1
                    copy["attributes"]["ApproximateReceiveCount"] = str(count)
                    with self._duplicates_lock:
                        self._duplicates.append(copy)


class StreamSource(_Source):
    """DynamoDB stream -> function, one shard after the other (moto keeps one shard per table)."""

    def __init__(self, runtime: Runtime, wiring: FunctionWiring, host: FunctionHost) -> None:
        super().__init__(runtime, wiring, host)
        self.streams = runtime.client("dynamodbstreams")
        self._iterators: dict[str, str] = {}
        # Per shard, the sequence number of the last record this mapping is done with (processed, or
        # dropped after its retries): saved with the runtime's state (state.py), and `resume`, the
        # restored ones, where the mapping picks up after a restart instead of its starting position.
        self.checkpoints: dict[str, str] = {}
        self.resume: dict[str, str] = {}
        # The mapping's settings as provisioned (Terraform's defaults included). Not emulated:
        # BisectBatchOnFunctionError, and the on-failure record Lambda sends to the DLQ when the
        # retries are exhausted (here the records are dropped with a warning).
        self._settings = wiring.mapping or stream_mapping_settings(self.trigger)

    def _ensure_iterators(self) -> None:
        if self._iterators:
            return
        position = self._settings["StartingPosition"]
        desc = self.streams.describe_stream(StreamArn=self.wiring.stream_arn)["StreamDescription"]
        for shard in desc["Shards"]:
            after = self.resume.get(shard["ShardId"])
            start: dict[str, str] = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                if after
                else {"ShardIteratorType": position}
            )
            self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                StreamArn=self.wiring.stream_arn, ShardId=shard["ShardId"], **start
            )["ShardIterator"]

    def poll_once(self) -> None:
        self._ensure_iterators()
        got_any = False
        for shard, iterator in list(self._iterators.items()):
            resp = self.streams.get_records(ShardIterator=iterator, Limit=self.trigger.batch_size)
            self._iterators[shard] = resp.get("NextShardIterator") or iterator
            raw = resp.get("Records", [])
            if raw:
                got_any = True
                region = self.runtime.config.region
                done = self._process(
                    [events.dynamodb_stream_record(r, self.wiring.stream_arn or "", region) for r in raw]
                )
                if done:
                    self.checkpoints[shard] = raw[done - 1]["dynamodb"]["SequenceNumber"]
        if not got_any:
            self.runtime.stopping.wait(0.25)  # Lambda polls a shard about four times a second

    def _process(self, batch: list[dict[str, Any]]) -> int:
        """Returns how many records of the batch it is done with (all, unless stopped while retrying)."""
        max_retries = self._settings["MaximumRetryAttempts"]  # -1: until the records expire (never, locally)
        attempts = 0
        size = len(batch)
        while batch and not self.stopping:
            seqs = [r["dynamodb"]["SequenceNumber"] for r in batch]
            invocation = self.invoke({"Records": batch})
            failed = set(seqs) if not invocation.ok else batch_failures(invocation.result, seqs)
            if failed is None:
                failed = set(seqs)
            first = min((seqs.index(s) for s in failed), default=None)
            outcomes = []
            for i, rec in enumerate(batch):
                created = rec["dynamodb"].get("ApproximateCreationDateTime")
                ok = first is None or i < first
                outcomes.append(
                    RecordOutcome(
                        id=seqs[i],
                        keys=events.record_keys(rec),
                        ok=ok,
                        reason="" if ok else failure_reason(invocation, seqs[i]),
                        queued_ms=round((invocation.started - created) * 1000, 1) if created else None,
                        receive_count=attempts + 1,
                    )
                )
            self.runtime.journal.add_invocation(self.name_, "dynamodb_stream", invocation, outcomes)
            if first is None:
                return size
            attempts += 1
            if 0 <= max_retries < attempts:
                log.warning(
                    "%s: dropping %d stream records after %d retries", self.name_, len(batch) - first, max_retries
                )
                return size
            batch = batch[first:]
            self.runtime.stopping.wait(self.runtime.config.retry_after or 1.0)
        return size - len(batch)


class ScheduleSource(_Source):
    """Runs a function on its schedule (rate() or cron(), see schedules.py) on the runtime's schedule clock."""

    def run(self) -> None:
        try:
            schedule = Schedule.parse(self.trigger.raw["expression"], self.trigger.raw.get("timezone"))
        except ValueError as exc:  # UnsupportedSchedule included: `tick` still runs it
            log.warning("%s: schedule not run locally (%s); use `tick %s`", self.name_, exc, self.name_)
            return
        clock = self.runtime.schedule_clock
        start = clock.now()
        after = start
        while not self.stopping:
            due = schedule.next_after(after, start=start)
            if due is None:
                return
            if self.runtime.stopping.wait(clock.real_delay(due)):
                return
            after = due
            if self.enabled:
                self.runtime.tick(self.name_, at=due)
