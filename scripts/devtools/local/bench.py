"""`make bench-local`: what the local runtime costs, measured against a bare boto3 loop in the same run.

1. Throughput through one EventBridge -> SQS -> function hop (publisher thread + the runtime's
   poller and workers), next to a bare SQS send/receive/delete loop (sender thread + receiver)
   against the same moto server. Prints events/s of both and the ratio (goal: <= 2x).
   The function may run `max_workers` batches at once (as Lambda scales pollers); the bare loop
   has one receiver. `--max-workers 1` compares one batch at a time with the one receiver.
   The runtime learns of each publication from moto itself (motoserver.py), so tracing adds
   no rule, queue or poller: moto does the same delivery work as for the bare loop plus the
   EventBridge hop.
2. Latency from publish (client clock before PutEvents) to handler start, p50/p95 (goal p50 < 100 ms).
3. Cold start and memory (max RSS) per function.

The machine is shared and noisy: the figures are printed, never asserted.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from devtools.local.runtime import DEFAULT_MAX_WORKERS, Runtime, RuntimeConfig

BENCH_SERVICES = Path(__file__).with_name("benchsvc")
FUNCTION = "localbench.sink"


def _records_done(runtime: Runtime) -> int:
    return sum(len(e.records) for e in runtime.journal.entries(FUNCTION) if e.invocation.ok)


def runtime_throughput(runtime: Runtime, n: int) -> float:
    events = runtime.client("events")
    bus = runtime.topology.bus
    base = _records_done(runtime)

    def produce() -> None:
        for start in range(0, n, 10):
            entries = [
                {
                    "EventBusName": bus,
                    "Source": "localbench",
                    "DetailType": "BenchPing",
                    "Detail": f'{{"data": {{"i": {i}}}}}',
                }
                for i in range(start, min(n, start + 10))
            ]
            events.put_events(Entries=entries)

    t0 = time.perf_counter()
    producer = threading.Thread(target=produce)
    producer.start()
    ok = runtime.wait_for(lambda _j: _records_done(runtime) - base >= n, timeout=300)
    elapsed = time.perf_counter() - t0
    producer.join()
    if not ok:
        raise SystemExit(f"runtime processed only {_records_done(runtime) - base}/{n} events")
    return n / elapsed


def bare_throughput(runtime: Runtime, n: int) -> float:
    sqs_send, sqs = runtime.client("sqs"), runtime.client("sqs")
    url = sqs.create_queue(QueueName="bench-bare-loop")["QueueUrl"]

    def produce() -> None:
        for start in range(0, n, 10):
            sqs_send.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "MessageBody": f'{{"data": {{"i": {i}}}}}'} for i in range(start, min(n, start + 10))
                ],
            )

    t0 = time.perf_counter()
    producer = threading.Thread(target=produce)
    producer.start()
    received = 0
    while received < n:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if messages:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            received += len(messages)
    elapsed = time.perf_counter() - t0
    producer.join()
    return n / elapsed


def publish_to_start_latency(runtime: Runtime, samples: int) -> list[float]:
    events = runtime.client("events")
    sent: dict[str, float] = {}
    for i in range(samples):
        t = time.time()
        resp = events.put_events(
            Entries=[
                {
                    "EventBusName": runtime.topology.bus,
                    "Source": "localbench",
                    "DetailType": "BenchPing",
                    "Detail": f'{{"data": {{"i": {i}}}}}',
                }
            ]
        )
        sent[resp["Entries"][0]["EventId"]] = t
        time.sleep(0.02)

    def started() -> dict[str, float]:
        out = {}
        for entry in runtime.journal.entries(FUNCTION):
            for rec in entry.records:
                for key in rec.keys:
                    if key in sent:
                        out[key] = entry.invocation.started
        return out

    runtime.wait_for(lambda _j: len(started()) >= samples, timeout=120)
    starts = started()
    return sorted((starts[k] - sent[k]) * 1000 for k in sent if k in starts)


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def run_bench(events: int = 300, latency_samples: int = 100, max_workers: int = DEFAULT_MAX_WORKERS) -> int:
    config = RuntimeConfig(
        services_roots=[BENCH_SERVICES],
        state_dir=Path(tempfile.mkdtemp(prefix="bench-local-")),
        max_workers=max_workers,
    )
    with Runtime(config) as runtime:
        print(
            f"moto at {runtime.moto_url}; {events} events, batches of 10, one EventBridge -> SQS -> function hop, "
            f"up to {runtime.hosts[FUNCTION].spec.concurrency} batch(es) in flight"
        )
        runtime.publish("localbench", "BenchPing", {"data": {"warmup": True}})
        runtime.wait_for(lambda _j: _records_done(runtime) >= 1, timeout=30)

        bare = bare_throughput(runtime, events)
        through = runtime_throughput(runtime, events)
        ratio = bare / through
        print(f"bare boto3 send/receive/delete loop : {bare:8.0f} events/s")
        print(f"runtime EventBridge -> SQS -> fn    : {through:8.0f} events/s")
        print(
            f"ratio bare/runtime                  : {ratio:8.2f}x  (goal <= 2x: {'met' if ratio <= 2 else 'NOT met'})"
        )

        latencies = publish_to_start_latency(runtime, latency_samples)
        if latencies:
            p50, p95 = statistics.median(latencies), _pct(latencies, 95)
            print(
                f"publish -> handler start            : p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
                f"(n={len(latencies)}; goal p50 < 100 ms: {'met' if p50 < 100 else 'NOT met'})"
            )
        for stats in runtime.status()["functions"]:
            print(
                f"function {stats['function']}: cold start {stats['init_ms']} ms, max RSS {stats['max_rss_mb']} MB "
                f"(memory {stats['memory_mb']} MB), {stats['invocations']} invocations"
            )
    return 0
