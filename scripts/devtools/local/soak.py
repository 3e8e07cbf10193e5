"""`make bench-soak`: the local runtime under sustained load, sampled every 30 s.

    python -m devtools.local soak --rate 2 --minutes 20

Starts a fresh runtime (`up --fresh` in its own process, every service, the settings of
`make local`, on free ports, in a temporary state directory) and drives orders over HTTP at a
fixed rate, open loop (a slow answer never lowers the rate): each order tokenises its card
(POST /payment-methods) and is placed (POST /orders, with an Idempotency-Key). One order in 20
uses a declined card (PaymentFailed, stock released), one in 20 asks for a SKU out of stock
(Rejected), one in 20 is cancelled right after it is placed; the others are paid, confirmed by
email, shipped and delivered by the carrier. Stock is put back every sample (inventory's
listings flow). Every `--sample-seconds` it prints one row:

    min  orders/s  POST p50/p95  5xx  lag  unproj  DLQ  t/o  RSS runtime/moto/workers(n)/total  threads  fds

- POST p50/p95: both POSTs of the orders placed in that window, as the client saw them.
- lag: the longest time a stream record of the orders' event store waited before the
  projection's handler started (the journal's `queued_ms` of orders.projection), in seconds;
  unproj: orders accepted more than 5 s before the sample with no view yet.
- DLQ: messages in every DLQ; t/o: "Task timed out" lines in the function logs so far.
- RSS / threads / fds of the runtime process, its moto server and its workers (read from /proc).

Then it waits (at most `--settle` s) until every order has decided its payment, stops the
runtime with SIGTERM (timing the final snapshot), starts it again on the same state directory
(timing the restore) and checks that every order is still there. The last line gives the goal
figures: sustained rate, memory growth after warm-up (total RSS at the end / at the end of
warm-up), POST p95, function timeouts, DLQ messages and 5xx answers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools import manifest as mf

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
SKUS = [f"SOAK-{i:02d}" for i in range(8)]
SKU_OUT = "SOAK-NONE"  # listed, never in stock: orders for it are rejected
STOCK = 1_000_000
CUSTOMERS = [
    # locale, name, time zone, region (-> market), currency, country, line1, city, postal code
    ("de-DE", "Jonas Becker", "Europe/Berlin", "eu-central-1", "EUR", "DE", "Hauptstr. 1", "Berlin", "10115"),
    ("fr-FR", "Camille Martin", "Europe/Paris", "eu-west-3", "EUR", "FR", "1 rue de Rivoli", "Paris", "75001"),
    ("en-GB", "Amelia Jones", "Europe/London", "eu-west-2", "GBP", "GB", "1 High Street", "London", "SW1A 1AA"),
    ("ja-JP", "山田 花子", "Asia/Tokyo", "ap-northeast-1", "JPY", "JP", "1-1 Chiyoda", "Tokyo", "100-0001"),
]
MARKETS = ("eu", "uk", "jp")
DECIDED = frozenset({"Paid", "Shipped", "Delivered", "Rejected", "PaymentFailed", "Cancelled"})
# Goals (issue 20) on a 2-core machine.
GOAL_GROWTH = 1.1
GOAL_P95_MS = 1000


# --------------------------------------------------------------------------- /proc


def _status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return dict(line.split(":", 1) for line in fh if ":" in line)
    except OSError:
        return {}


def proc_sample(pid: int) -> tuple[float, int, int]:
    """(RSS MiB, threads, open file descriptors) of one process; zeros when it is gone."""
    status = _status(pid)
    if not status:
        return 0.0, 0, 0
    rss = int(status.get("VmRSS", "0 kB").split()[0]) / 1024
    threads = int(status.get("Threads", "0").strip())
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        fds = 0
    return rss, threads, fds


def children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/children") as fh:
            out.extend(int(p) for p in fh.read().split())
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass
class Usage:
    rss: dict[str, float]  # runtime, moto, workers, total (MiB)
    threads: dict[str, int]
    fds: dict[str, int]
    workers: int
    worker_rss: dict[int, float] = field(default_factory=dict)  # pid -> MiB, each execution environment


def usage(runtime_pid: int) -> Usage:
    groups: dict[str, list[int]] = {"runtime": [runtime_pid], "moto": [], "workers": []}
    for child in children(runtime_pid):
        groups["moto" if "motoserver" in cmdline(child) else "workers"].append(child)
    rss: dict[str, float] = {}
    threads: dict[str, int] = {}
    fds: dict[str, int] = {}
    for name, pids in groups.items():
        samples = [proc_sample(p) for p in pids]
        rss[name] = sum(s[0] for s in samples)
        threads[name] = sum(s[1] for s in samples)
        fds[name] = sum(s[2] for s in samples)
    rss["total"] = sum(rss.values())
    per_worker = {pid: proc_sample(pid)[0] for pid in groups["workers"]}
    return Usage(rss, threads, fds, len(groups["workers"]), per_worker)


# --------------------------------------------------------------------------- HTTP


class Http:
    def __init__(self, base: str, auth: Any = None) -> None:
        self.base = base.rstrip("/")
        self.auth = auth  # a callable giving the Authorization header (devtools.local.identity.Bearer)

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {**(self.auth() if self.auth else {}), **(headers or {})}
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"content-type": "application/json", **headers}
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        except OSError:
            return 599, None  # no answer at all (counted with the 5xx)
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode(errors="replace")


# --------------------------------------------------------------------------- the load


@dataclass
class Placed:
    order_id: str
    kind: str  # ok, declined, rejected, cancelled
    at: float


@dataclass
class Driver:
    http: Http
    rate: float
    posts: list[tuple[float, float, int]] = field(default_factory=list)  # (sent at, latency ms, status)
    placed: list[Placed] = field(default_factory=list)
    refused: list[tuple[int, Any]] = field(default_factory=list)  # POST /orders answers other than 201
    lock: threading.Lock = field(default_factory=threading.Lock)
    t0: float = 0.0  # when the drive started
    other_failures: list[tuple[float, int, Any]] = field(default_factory=list)  # restocks refused

    def _post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        t0 = time.time()
        status, answer = self.http.call("POST", path, body, headers)
        with self.lock:
            self.posts.append((t0, (time.time() - t0) * 1000, status))
        return status, answer

    def order(self, i: int) -> None:
        kind = {7: "declined", 13: "rejected", 3: "cancelled"}.get(i % 20, "ok")
        locale, name, zone, region, currency, country, line1, city, postal = CUSTOMERS[i % len(CUSTOMERS)]
        card = {
            "card_number": CARD_DECLINED if kind == "declined" else CARD_OK,
            "expiry_month": 12,
            "expiry_year": 2031,
            "cvc": "123",
        }
        status, answer = self._post("/payment-methods", card)
        if status != 201:
            with self.lock:
                self.refused.append((status, answer))
            return
        customer_id = f"cus_soak_{i:06d}"
        lines = [{"sku": SKU_OUT if kind == "rejected" else SKUS[i % len(SKUS)], "quantity": 1 + i % 2}]
        if i % 3 == 0 and kind != "rejected":
            lines.append({"sku": SKUS[(i + 3) % len(SKUS)], "quantity": 1})
        body = {
            "customer": {  # the customer is the token's user (one staff user places every soak order)
                "email": f"{customer_id}@customer.example",
                "name": name,
                "locale": locale,
                "time_zone": zone,
                "region": region,
            },
            "currency": currency,
            "lines": lines,
            "shipping_address": {"name": name, "line1": line1, "city": city, "postal_code": postal, "country": country},
            "payment_method_id": answer["payment_method_id"],
        }
        status, answer = self._post("/orders", body, {"Idempotency-Key": str(uuid.uuid4())})
        if status != 201:
            with self.lock:
                self.refused.append((status, answer))
            return
        placed = Placed(answer["order_id"], kind, time.time())
        with self.lock:
            self.placed.append(placed)
        if kind == "cancelled":
            self._post(f"/orders/{placed.order_id}/cancel", {})

    def run(self, seconds: float, stop: threading.Event) -> None:
        """Start order i at t0 + i/rate, whatever the previous ones are doing (open loop)."""
        with ThreadPoolExecutor(max_workers=max(8, int(self.rate * 8)), thread_name_prefix="soak") as pool:
            t0 = self.t0 = time.time()
            i = 0
            while not stop.is_set():
                due = t0 + i / self.rate
                if due - t0 >= seconds:
                    break
                if stop.wait(max(0.0, due - time.time())):
                    break
                pool.submit(self.order, i)
                i += 1


# --------------------------------------------------------------------------- the runtime under test


class RuntimeProcess:
    """`python -m devtools.local up` in its own process, as `make local` runs it."""

    def __init__(self, state_dir: Path, extra: list[str]) -> None:
        self.state_dir = state_dir
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.endpoints: dict[str, Any] = {}
        self.ready_seconds = 0.0
        self.moto_requests: int | None = None  # moto's request count at the last sample

    def start(self, *, fresh: bool, timeout: float = 180) -> None:
        state = self.state_dir / "runtime.json"
        with contextlib.suppress(FileNotFoundError):
            state.unlink()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(mf.REPO_ROOT), str(mf.REPO_ROOT / "scripts")])}
        args = [sys.executable, "-m", "devtools.local", "--state-dir", str(self.state_dir), "up"]
        args += ["--aws-port", "0", "--http-port", "0", "--control-port", "0", *self.extra]
        if fresh:
            args.append("--fresh")
        log = (self.state_dir / "up.log").open("ab")
        t0 = time.time()
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=mf.REPO_ROOT)
        while not state.exists():
            if self.proc.poll() is not None:
                raise SystemExit(f"runtime exited with {self.proc.returncode}; see {self.state_dir / 'up.log'}")
            if time.time() - t0 > timeout:
                raise SystemExit(f"runtime not ready after {timeout} s; see {self.state_dir / 'up.log'}")
            time.sleep(0.1)
        self.ready_seconds = time.time() - t0
        self.endpoints = json.loads(state.read_text())

    def control(self, path: str) -> Any:
        with urllib.request.urlopen(self.endpoints["control"] + path, timeout=60) as resp:
            return json.loads(resp.read())

    def stop(self, timeout: float = 120) -> float:
        """SIGTERM, as a service manager (or Ctrl-C) stops it; returns the seconds it took."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return time.time() - t0


def _aws(endpoints: dict[str, Any], name: str) -> Any:
    import boto3

    return boto3.client(
        name,
        endpoint_url=endpoints["moto"],
        region_name=endpoints["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def views(endpoints: dict[str, Any]) -> dict[str, str]:
    """order id -> status, from the orders' view table (a consistent scan, small attributes only)."""
    ddb = _aws(endpoints, "dynamodb")
    table = mf.table_name(endpoints["env"], "orders", "views")
    out: dict[str, str] = {}
    request: dict[str, Any] = {
        "TableName": table,
        "ProjectionExpression": "order_id, #s",
        "ExpressionAttributeNames": {"#s": "status"},
        "ConsistentRead": True,
    }
    while True:
        page = ddb.scan(**request)
        for item in page.get("Items", []):
            out[item["order_id"]["S"]] = item.get("status", {}).get("S", "")
        if "LastEvaluatedKey" not in page:
            return out
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def moto_state(endpoints: dict[str, Any]) -> dict[str, Any]:
    """moto's persistence figures (devtools.local.state): the last snapshot, requests served."""
    try:
        with urllib.request.urlopen(endpoints["moto"] + "/_local/state", timeout=30) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return {}


def dlq_depth(endpoints: dict[str, Any]) -> int:
    sqs = _aws(endpoints, "sqs")
    total = 0
    for url in sqs.list_queues(QueueNamePrefix=f"{endpoints['env']}-").get("QueueUrls", []):
        if url.endswith("-dlq"):
            attrs = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            total += sum(int(v) for v in attrs.values())
    return total


class LogScan:
    """Counts 'Task timed out' in the function logs, reading only what was added since the last call."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.offsets: dict[Path, int] = {}
        self.timeouts = 0

    def scan(self) -> int:
        for path in sorted(self.logs.glob("*.log")):
            with path.open("rb") as fh:
                fh.seek(self.offsets.get(path, 0))
                data = fh.read()
                self.offsets[path] = fh.tell()
            self.timeouts += data.count(b"Task timed out")
        return self.timeouts


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --------------------------------------------------------------------------- the run


@dataclass
class Sample:
    at: float  # seconds since the drive started
    orders_per_s: float
    p50_ms: float
    p95_ms: float
    errors_5xx: int
    lag_s: float
    unprojected: int
    dlq: int
    timeouts: int
    usage: Usage
    moto_rps: float = 0.0  # requests moto served per second in the window
    snapshot: dict[str, Any] = field(default_factory=dict)  # the last periodic snapshot's figures


@dataclass
class SoakResult:
    rate: float
    minutes: float
    placed: int = 0
    refused: int = 0
    sustained_rate: float = 0.0
    growth: float = 0.0
    # The same, with the execution environments created after warm-up left out (scale-out under a
    # burst, ~60 MiB each, is Lambda's behaviour, not memory kept): what a leak would move.
    growth_same_environments: float = 0.0
    rss_warm_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_peak_mb: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0  # after warm-up (cold starts excluded): what the goal is about
    p95_all_ms: float = 0.0  # every POST, cold starts included
    errors_5xx: int = 0
    dlq: int = 0
    timeouts: int = 0
    max_lag_s: float = 0.0
    # RSS added per order placed after warm-up, by process (KiB): what a leak would show first
    growth_kib_per_order: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    undecided: int = 0
    stop_s: float = 0.0
    restart_s: float = 0.0
    snapshot_mb: float = 0.0
    restored_orders: int | None = None
    samples: list[Sample] = field(default_factory=list)

    @property
    def goals_met(self) -> bool:
        return (
            self.sustained_rate >= self.rate * 0.98
            and self.growth <= GOAL_GROWTH
            and self.p95_ms < GOAL_P95_MS
            and self.timeouts == 0
            and self.dlq == 0
            and self.errors_5xx == 0
            and self.undecided == 0
        )

    def summary(self) -> str:
        return (
            f"soak: {self.sustained_rate:.2f} orders/s sustained for {self.minutes:g} min "
            f"({self.placed} placed, {self.refused} refused); memory growth after warm-up x{self.growth:.3f} "
            f"({self.rss_warm_mb:.0f} -> {self.rss_end_mb:.0f} MiB, peak {self.rss_peak_mb:.0f}; "
            f"x{self.growth_same_environments:.3f} without the environments created since); "
            f"POST after warm-up p50 {self.p50_ms:.0f} ms p95 {self.p95_ms:.0f} ms (with the cold starts "
            f"{self.p95_all_ms:.0f} ms); timeouts {self.timeouts}; "
            f"DLQ {self.dlq}; 5xx {self.errors_5xx}; projection lag max {self.max_lag_s:.1f} s; "
            f"undecided {self.undecided}; after warm-up, per order: "
            + ", ".join(f"{k} +{v:.0f} KiB" for k, v in self.growth_kib_per_order.items())
        )


HEADER = (
    f"{'min':>5} {'ord/s':>5} {'p50':>5} {'p95':>5} {'5xx':>3} {'lag':>5} {'unpr':>4} {'DLQ':>3} {'t/o':>3} "
    f"{'RSS rt':>6} {'moto':>5} {'workers':>10} {'total':>6}  {'threads r/m/w':>13}  {'fds r/m/w':>12} "
    f"{'req/s':>5} {'snapshot':>14}"
)


def format_sample(s: Sample) -> str:
    u = s.usage
    workers = f"{u.rss['workers']:.0f}({u.workers})"
    threads = f"{u.threads['runtime']}/{u.threads['moto']}/{u.threads['workers']}"
    fds = f"{u.fds['runtime']}/{u.fds['moto']}/{u.fds['workers']}"
    snap = s.snapshot
    snapshot = f"{snap['paused_ms']:.0f}ms/{snap['bytes'] / 2**20:.1f}MiB" if snap else "-"
    return (
        f"{s.at / 60:5.1f} {s.orders_per_s:5.2f} {s.p50_ms:5.0f} {s.p95_ms:5.0f} {s.errors_5xx:3d} {s.lag_s:5.1f} "
        f"{s.unprojected:4d} {s.dlq:3d} {s.timeouts:3d} {u.rss['runtime']:6.0f} {u.rss['moto']:5.0f} "
        f"{workers:>10} {u.rss['total']:6.0f}  {threads:>13}  {fds:>12} {s.moto_rps:5.0f} {snapshot:>14}"
    )


def _projection_lag(rt: RuntimeProcess, since: float) -> float:
    entries = rt.control("/invocations?function=orders.projection&limit=2000")
    lags = [
        r["queued_ms"] / 1000
        for e in entries
        if e["started"] >= since
        for r in e["records"]
        if r.get("queued_ms") is not None
    ]
    return max(lags, default=0.0)


def run_soak(
    rate: float = 2.0,
    minutes: float = 20.0,
    *,
    sample_seconds: float = 30.0,
    warmup_minutes: float | None = None,
    settle_seconds: float = 180.0,
    state_dir: Path | None = None,
    restart: bool = True,
    up_args: list[str] | None = None,
    out: Any = None,
) -> SoakResult:
    """Drive the runtime; returns the figures (and prints the table through `out`)."""
    out = out or (lambda line: print(line, flush=True))
    warmup = warmup_minutes if warmup_minutes is not None else min(5.0, minutes / 4)
    own_dir = state_dir is None
    state = Path(state_dir or tempfile.mkdtemp(prefix="soak-", dir=mf.REPO_ROOT / ".local"))
    state.mkdir(parents=True, exist_ok=True)
    rt = RuntimeProcess(state, up_args or [])
    result = SoakResult(rate, minutes)
    try:
        rt.start(fresh=True)
        out(f"runtime ready in {rt.ready_seconds:.1f} s (pid {rt.endpoints['pid']}, state {state})")
        from devtools.local.identity import Bearer

        # One user of the local pool in group staff: seeds stock and rates, and places every order.
        http = Http(rt.endpoints["gateway"], Bearer.for_runtime(rt.endpoints, "soak-ops", staff=True))
        _seed(http)
        driver = Driver(http, rate)
        logscan = LogScan(Path(rt.endpoints["logs"]))
        stop = threading.Event()
        drive = threading.Thread(target=driver.run, args=(minutes * 60, stop), name="soak-driver", daemon=True)
        t0 = time.time()
        drive.start()
        out(f"driving {rate:g} orders/s for {minutes:g} min, a row every {sample_seconds:g} s (warm-up {warmup:g} min)")
        out(HEADER)
        last = t0
        warm: Sample | None = None
        while drive.is_alive():
            drive.join(timeout=max(0.0, last + sample_seconds - time.time()))
            now = time.time()
            if now - last < sample_seconds and drive.is_alive():
                continue
            sample = _sample(rt, driver, logscan, http, t0=t0, since=last, now=now)
            result.samples.append(sample)
            out(format_sample(sample))
            if warm is None and sample.at >= warmup * 60 - 1:
                warm = sample
            last = now
        drive_seconds = time.time() - t0
        # -- settle: every order decides its payment (delivery is the carrier's 90 s later)
        deadline = time.time() + settle_seconds
        statuses: dict[str, str] = {}
        while True:
            statuses = views(rt.endpoints)
            undecided = [p for p in driver.placed if statuses.get(p.order_id) not in DECIDED]
            if not undecided or time.time() > deadline:
                break
            time.sleep(3)
        final = _sample(rt, driver, logscan, http, t0=t0, since=t0, now=time.time())
        out(f"settled: {format_sample(final)}")
        _summarise(
            result,
            driver,
            statuses=statuses,
            drive_seconds=drive_seconds,
            warm=warm,
            final=final,
            undecided=len(undecided),
        )
        if restart:
            _restart(rt, result, out)
    finally:
        rt.stop()
        if own_dir:
            shutil.rmtree(state, ignore_errors=True)
    hist = ", ".join(f"{k} {v}" for k, v in sorted(result.statuses.items()))
    out(f"orders by status: {hist}")
    if restart:
        restored = "?" if result.restored_orders is None else result.restored_orders
        out(
            f"restart: SIGTERM stop {result.stop_s:.1f} s (snapshot {result.snapshot_mb:.1f} MiB), start again "
            f"{result.restart_s:.1f} s, orders found {restored}/{result.placed}"
        )
    out(result.summary())
    return result


def _seed(http: Http) -> None:
    status, answer = http.call("PUT", "/rates/EUR", {"rates": {"USD": "1.0850", "GBP": "0.8500", "JPY": "161.20"}})
    assert status == 200, answer
    _restock(http)
    for sku in [*SKUS, SKU_OUT]:
        for market in MARKETS:
            deadline = time.time() + 60
            while http.call("GET", f"/listings/{market}/{sku}")[0] != 200:
                if time.time() > deadline:
                    raise SystemExit(f"{sku} never listed in {market}")
                time.sleep(0.3)


def _restock(http: Http, failures: list[tuple[float, int, Any]] | None = None) -> None:
    """Stock back to its level. During the run (`failures` given) a refusal is counted, not fatal."""
    for n, sku in enumerate([*SKUS, SKU_OUT]):
        body = {
            "name": f"Soak item {sku}",
            "quantity": 0 if sku == SKU_OUT else STOCK,
            "base_price": {"amount": f"{9 + n}.90", "currency": "EUR"},
            "low_stock_threshold": 0,
        }
        status, answer = http.call("PUT", f"/inventory/{sku}", body)
        if status >= 300:
            if failures is None:
                raise SystemExit(f"restock {sku}: {status} {answer}")
            failures.append((time.time(), status, answer))


def _sample(
    rt: RuntimeProcess, driver: Driver, logscan: LogScan, http: Http, *, t0: float, since: float, now: float
) -> Sample:
    with driver.lock:
        posts = [p for p in driver.posts if since <= p[0] < now]
        placed = [p for p in driver.placed if since <= p.at < now]
        waiting = [p.order_id for p in driver.placed if p.at < now - 5]
    latencies = [p[1] for p in posts]
    seen = views(rt.endpoints)
    moto = moto_state(rt.endpoints)
    requests = moto.get("requests", 0)
    moto_rps = (requests - rt.moto_requests) / max(1e-9, now - since) if rt.moto_requests is not None else 0.0
    rt.moto_requests = requests
    sample = Sample(
        at=now - t0,
        orders_per_s=len(placed) / max(1e-9, now - since),
        p50_ms=pct(latencies, 50),
        p95_ms=pct(latencies, 95),
        errors_5xx=sum(1 for p in posts if p[2] >= 500),
        lag_s=_projection_lag(rt, since),
        unprojected=sum(1 for o in waiting if o not in seen),
        dlq=dlq_depth(rt.endpoints),
        timeouts=logscan.scan(),
        usage=usage(rt.endpoints["pid"]),
        moto_rps=moto_rps,
        snapshot=moto.get("last") or {},
    )
    _restock(http, driver.other_failures)
    sample.errors_5xx += sum(1 for f in driver.other_failures if since <= f[0] < now and f[1] >= 500)
    return sample


def _summarise(
    result: SoakResult,
    driver: Driver,
    *,
    statuses: dict[str, str],
    drive_seconds: float,
    warm: Sample | None,
    final: Sample,
    undecided: int,
) -> None:
    latencies = [p[1] for p in driver.posts]
    result.placed = len(driver.placed)
    result.refused = len(driver.refused)
    result.sustained_rate = result.placed / max(1e-9, drive_seconds)
    during = result.samples or [final]
    warm = warm or during[0]
    result.rss_warm_mb = warm.usage.rss["total"]
    result.rss_end_mb = during[-1].usage.rss["total"]
    result.rss_peak_mb = max(s.usage.rss["total"] for s in during if s.at >= warm.at)
    result.growth = result.rss_end_mb / max(1e-9, result.rss_warm_mb)
    end = during[-1]
    newer = sum(rss for pid, rss in end.usage.worker_rss.items() if pid not in warm.usage.worker_rss)
    result.growth_same_environments = (result.rss_end_mb - newer) / max(1e-9, result.rss_warm_mb)
    orders_after = sum(1 for p in driver.placed if p.at >= driver.t0 + warm.at)
    if end is not warm and orders_after:
        result.growth_kib_per_order = {
            name: (end.usage.rss[name] - warm.usage.rss[name]) * 1024 / orders_after
            for name in ("runtime", "moto", "workers")
        }
    warm_posts = [p[1] for p in driver.posts if p[0] >= driver.t0 + warm.at] or latencies
    result.p50_ms, result.p95_ms = pct(warm_posts, 50), pct(warm_posts, 95)
    result.p95_all_ms = pct(latencies, 95)
    result.errors_5xx = sum(1 for p in driver.posts if p[2] >= 500)
    result.errors_5xx += sum(1 for f in driver.other_failures if f[1] >= 500)
    result.dlq = final.dlq
    result.timeouts = final.timeouts
    result.max_lag_s = max(s.lag_s for s in during)
    counts: dict[str, int] = {}
    for p in driver.placed:
        key = statuses.get(p.order_id) or "(no view)"
        counts[key] = counts.get(key, 0) + 1
    result.statuses = counts
    result.undecided = undecided


def _restart(rt: RuntimeProcess, result: SoakResult, out: Any) -> None:
    result.stop_s = rt.stop()
    snapshot = rt.state_dir / "state" / "moto.pickle"
    result.snapshot_mb = snapshot.stat().st_size / 2**20 if snapshot.exists() else 0.0
    rt.start(fresh=False)
    result.restart_s = rt.ready_seconds
    try:
        result.restored_orders = len(views(rt.endpoints))
    except Exception as exc:  # reported, not raised: the figures above stand
        out(f"restart check failed: {type(exc).__name__}: {exc}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.local soak", description=__doc__)
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=2.0, help="orders per second (default 2)")
    parser.add_argument("--minutes", type=float, default=20.0, help="how long to drive (default 20)")
    parser.add_argument("--sample-seconds", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=None, help="default: min(5, minutes / 4)")
    parser.add_argument("--settle-seconds", type=float, default=180.0)
    parser.add_argument("--no-restart", action="store_true", help="skip the stop/start check at the end")
    parser.add_argument("--keep", metavar="DIR", help="state directory to use and keep (default: a temporary one)")


def run_from_args(args: argparse.Namespace) -> int:
    result = run_soak(
        args.rate,
        args.minutes,
        sample_seconds=args.sample_seconds,
        warmup_minutes=args.warmup_minutes,
        settle_seconds=args.settle_seconds,
        state_dir=Path(args.keep) if args.keep else None,
        restart=not args.no_restart,
    )
    return 0 if result.goals_met else 1


if __name__ == "__main__":
    sys.exit(main())
