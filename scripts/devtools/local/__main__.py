"""Command line of the local runtime: `python -m devtools.local <command>` (see README.md).

up                          run everything in the foreground; prints the endpoints
status                      functions, cold starts, invocations, memory, resources
publish SOURCE TYPE --data '{"k": 1}'   put an event (architecture envelope) on the bus
invoke FUNCTION --event '{...}'         invoke a function directly
logs [FUNCTION] [-f]        function logs (START/END/REPORT and what the handler printed)
dlq list [FUNCTION]         DLQ messages with the reason they failed
dlq redrive [FUNCTION]      move DLQ messages back to their source queue
trace ID                    where an event went: functions, order, latencies
faults --duplicate-rate 1   fault injection switches on the running runtime
tick FUNCTION               run a scheduled function now (the event its schedule sends)
emails [--json]             emails SES (moto) has sent: to, subject, first lines, time
token --user alice [--staff]  sign a local user up (or in) and print an access token for the HTTP API
demo                        start, drive every service's scenario, summarise, stop
bench                       events/s and latency vs a bare boto3 loop
soak                        orders at a fixed rate for minutes: memory, latency, DLQ, restart
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from devtools import manifest as mf
from devtools.local.control import ControlClient
from devtools.local.state import DEFAULT_SNAPSHOT_SECONDS

DEFAULT_STATE_DIR = Path(os.environ.get("LOCAL_STATE_DIR", mf.REPO_ROOT / ".local"))


def _state(args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.state_dir) / "runtime.json"
    if not path.exists():
        raise SystemExit(f"no running runtime ({path} not found); start one with `make local`")
    return json.loads(path.read_text())


def _control(args: argparse.Namespace) -> ControlClient:
    return ControlClient(_state(args)["control"])


def _json_arg(text: str | None) -> Any:
    if text is None:
        return None
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    return json.loads(text)


def _clock(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S.%f")[:-3] if ts else "-"


def describe_invocation(entry: dict[str, Any]) -> str:
    records = entry.get("records") or []
    failed = [r for r in records if not r["ok"]]
    outcome = "ok" if entry["ok"] and not failed else (entry.get("error") or f"{len(failed)} failed")
    cold = f" cold start {entry['init_ms']:.0f} ms" if entry.get("cold") and entry.get("init_ms") else ""
    note = f" [{entry['note']}]" if entry.get("note") else ""
    env = f"#{entry['environment']}" if entry.get("environment") else ""
    return (
        f"{_clock(entry['started'])} {entry['function'] + env:<31} {entry['trigger']:<15} "
        f"{len(records):>3} rec  {entry['duration_ms']:>8.1f} ms  {outcome}{cold}{note}"
    )


# --------------------------------------------------------------------------- commands


def cmd_up(args: argparse.Namespace) -> int:
    from devtools.local.runtime import Runtime, RuntimeConfig
    from devtools.local.sources import Faults

    config = RuntimeConfig(
        services_roots=[Path(p) for p in args.services] or [mf.SERVICES_DIR],
        env=args.env,
        region=args.region,
        moto_port=args.aws_port,
        gateway_port=args.http_port,
        control_port=args.control_port,
        state_dir=Path(args.state_dir),
        retry_after=None if args.retry_after < 0 else args.retry_after,
        faults=Faults(args.duplicate_rate, args.failure_rate, args.latency_ms),
        max_workers=args.max_workers,
        schedule_speed=args.schedule_speed or 1.0,
        persist=True,
        fresh=args.fresh,
        snapshot_seconds=args.snapshot_seconds,
        function_environment=_function_env(args.function_env),
    )
    runtime = Runtime(config)
    stop = {"now": False}

    def _signal(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, _signal)
    signal.signal(signal.SIGTERM, _signal)
    runtime.start()
    try:
        ep = runtime.endpoints()
        print(
            f"local runtime ready in {runtime.startup_ms / 1000:.1f} s: aws={ep['moto']} http={ep['gateway']} "
            f"control={ep['control']} env={ep['env']} region={ep['region']}",
            flush=True,
        )
        for name, wiring in sorted(runtime.topology.functions.items()):
            trig = wiring.function.trigger
            where = ", ".join(" ".join(r) for r in trig.routes) or (wiring.queue_url or wiring.stream_arn or "")
            where = where or trig.raw.get("expression", "")
            limit = runtime.hosts[name].spec.concurrency
            print(f"  {name:<30} {trig.type:<15} x{limit:<3} {where}")
        for ref, bucket in sorted(runtime.topology.buckets.items()):
            print(f"  bucket {ref}: aws --endpoint-url {ep['moto']} s3 cp FILE s3://{bucket}/")
        print(f"  logs: {ep['logs']}  (python -m devtools.local logs -f)", flush=True)
        if runtime.restored:
            print(f"  {runtime.restored}", flush=True)
        # By sequence number: the journal keeps the last MAX_INVOCATIONS, and a restored one starts past 0.
        seen = max((e.seq for e in runtime.journal.entries()), default=0)
        while not stop["now"]:
            time.sleep(0.2)
            for entry in runtime.journal.entries():
                if entry.seq > seen:
                    print(describe_invocation(entry.to_dict()), flush=True)
                    seen = entry.seq
    finally:
        print("stopping...", flush=True)
        runtime.stop()
        saved = runtime.final_snapshot
        if saved:
            print(
                f"state saved in {runtime.state.path if runtime.state else '?'}: {saved['bytes'] / 2**20:.1f} MiB in "
                f"{saved['total_ms'] / 1000:.2f} s (`make local` brings it back; LOCAL_ARGS=--fresh starts empty)",
                flush=True,
            )
    return 0


def _function_env(items: list[str]) -> dict[str, dict[str, str]]:
    """["shipping.carrier_handover:CARRIER_TRANSIT_SECONDS=5", ...] -> {"shipping.carrier_handover": {...}}."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        function, sep, assignment = item.partition(":")
        name, eq, value = assignment.partition("=")
        if not (sep and eq and function and name):
            raise SystemExit(f"--function-env {item!r}: expected service.function:NAME=VALUE")
        out.setdefault(function, {})[name] = value
    return out


def cmd_status(args: argparse.Namespace) -> int:
    status = _control(args).call("GET", "/status")
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"aws={status['moto']} http={status['gateway']} control={status['control']} bus={status['bus']}")
    print(
        f"faults: {status['faults']}  retry_after: {status['retry_after']}  max_workers: {status['max_workers']}"
        f"  schedule_speed: {status['schedule_speed']}"
    )
    print(
        f"{'function':<30} {'trigger':<15} {'envs':>7} {'peak':>4} {'cold starts':>11} {'last init':>9} "
        f"{'invocations':>11} {'errors':>6} {'max RSS':>8} {'memory':>6}"
    )
    for fn in status["functions"]:
        init = f"{fn['init_ms']:.0f} ms" if fn["init_ms"] else "-"
        rss = f"{fn['max_rss_mb']:.0f} MB" if fn["max_rss_mb"] else "-"
        envs = f"{fn['environments']}/{fn['concurrency']}"
        print(
            f"{fn['function']:<30} {fn['trigger']:<15} {envs:>7} {fn['peak_concurrency']:>4} {fn['cold_starts']:>11} "
            f"{init:>9} {fn['invocations']:>11} {fn['errors']:>6} {rss:>8} {fn['memory_mb']:>4} MB"
        )
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    import boto3

    from devtools.local.runtime import envelope

    state = _state(args)
    if args.detail is not None:
        detail = _json_arg(args.detail)
    else:
        detail = envelope(_json_arg(args.data) or {}, producer=args.source, region=state["region"])
    events = boto3.client(
        "events",
        endpoint_url=state["moto"],
        region_name=state["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    resp = events.put_events(
        Entries=[
            {
                "EventBusName": args.bus or mf.bus_name(state["env"]),
                "Source": args.source,
                "DetailType": args.detail_type,
                "Detail": json.dumps(detail),
            }
        ]
    )
    entry = resp["Entries"][0]
    if "EventId" not in entry:
        raise SystemExit(f"put_events failed: {entry}")
    event_id = (detail.get("metadata") or {}).get("event_id") if isinstance(detail, dict) else None
    print(
        f"published {args.source}/{args.detail_type}: id={entry['EventId']}"
        + (f" event_id={event_id}" if event_id else "")
    )
    print(f"trace it: python -m devtools.local trace {entry['EventId']}")
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    result = _control(args).call("POST", "/invoke", {"function": args.function, "event": _json_arg(args.event) or {}})
    if args.show_log:
        for line in result.pop("log", []):
            print(f"  | {line}")
    result.pop("log", None)
    print(json.dumps(result, indent=2, default=str))
    return 0 if result["ok"] else 1


def cmd_tick(args: argparse.Namespace) -> int:
    result = _control(args).call("POST", "/tick", {"function": args.function})
    if args.show_log:
        for line in result.get("log", []):
            print(f"  | {line}")
    result.pop("log", None)
    print(json.dumps(result, indent=2, default=str))
    return 0 if result["ok"] else 1


def first_lines(text: str | None, count: int = 3, width: int = 100) -> list[str]:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return [line[:width] for line in lines[:count]]


def html_text(html: str) -> str:
    """The readable text of an HTML body (for a console preview)."""
    from html.parser import HTMLParser

    parts: list[str] = []

    class Text(HTMLParser):
        skip = False

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            self.skip = tag in ("style", "script", "head")
            if tag in ("br", "p", "div", "tr", "li", "h1", "h2", "h3"):
                parts.append("\n")

        def handle_endtag(self, tag: str) -> None:
            self.skip = False

        def handle_data(self, data: str) -> None:
            if not self.skip:
                parts.append(data)

    Text().feed(html)
    return "".join(parts)


def format_emails(emails: list[dict[str, Any]]) -> list[str]:
    if not emails:
        return ["no emails sent"]
    lines = []
    for mail in emails:
        to = ", ".join(mail.get("to") or []) or "-"
        lines.append(f"{_clock(mail.get('sent_at'))}  {mail.get('from')} -> {to}")
        lines.append(
            f"    subject: {mail.get('subject') or ('template ' + mail['template'] if mail.get('template') else '-')}"
        )
        body = mail.get("text") or html_text(mail.get("html") or "")
        for line in first_lines(body):
            lines.append(f"    | {line}")
    lines.append(f"{len(emails)} email(s)")
    return lines


def cmd_emails(args: argparse.Namespace) -> int:
    emails = _control(args).call("GET", "/emails")
    if args.json:
        print(json.dumps(emails, indent=2, default=str))
    else:
        print("\n".join(format_emails(emails)))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """Sign a local user up (first time) or in, against the running runtime's user pool, and print a
    token: `curl -H "Authorization: Bearer $(python -m devtools.local token --user alice)" ...`."""
    import boto3

    from devtools.local.identity import Users, decode, find_user_pool

    state = _state(args)
    idp = boto3.client(
        "cognito-idp",
        endpoint_url=state["moto"],
        region_name=state["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    tokens = Users(idp, find_user_pool(idp, state["env"], state["region"])).token(args.user, staff=args.staff)
    token = tokens.id_token if args.id_token else tokens.access_token
    if args.json:
        claims = decode(token)
        print(json.dumps({"user": tokens.user, "sub": claims["sub"], "token": token, "claims": claims}, indent=2))
    else:
        print(token)
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    log_dir = Path(args.state_dir) / "logs"
    files = sorted(log_dir.glob(f"{args.function or '*'}.log"))
    if not files:
        raise SystemExit(f"no logs in {log_dir}" + (f" for {args.function}" if args.function else ""))
    handles = {}
    for path in files:
        lines = path.read_text(errors="replace").splitlines()[-args.lines :]
        for line in lines:
            print(f"{path.stem}: {line}" if len(files) > 1 else line)
        handles[path] = path.open(errors="replace")
        handles[path].seek(0, os.SEEK_END)
    try:
        while args.follow:
            for path, handle in handles.items():
                for line in handle.readlines():
                    print(f"{path.stem}: {line.rstrip()}" if len(files) > 1 else line.rstrip(), flush=True)
            time.sleep(0.3)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_dlq(args: argparse.Namespace) -> int:
    control = _control(args)
    if args.action == "redrive":
        moved = control.call("POST", "/dlq/redrive", {"function": args.function})
        for fn, count in moved.items():
            print(f"{fn}: {count} message(s) moved back to the source queue")
        return 0
    # "Empty" only when SQS agrees: a message that cannot be received (moto answering 500, which
    # boto3's retry turns into an empty receive) or that is in flight is not listed, yet it is
    # there. A message that reached a DLQ while listing shows up when listing again.
    for attempt in range(3):
        messages = control.call("GET", "/dlq" + (f"?function={args.function}" if args.function else ""))
        try:
            unlisted = _dlq_unlisted(args, messages)
        except Exception as exc:
            unlisted, error = [], f"could not check the DLQs' message counts: {type(exc).__name__}: {exc}"
        else:
            error = ""
        if not unlisted or attempt == 2:
            break
        time.sleep(0.5)
    for m in messages:
        print(f"{m['function']}  {m['message_id']}  sent {_clock(m['sent'])}  receives {m['receive_count']}")
        print(f"    reason: {m['reason']}")
        print(f"    body:   {m['body'][:300]}")
    if error:
        print(error)
        return 1
    for function, dlq, count in unlisted:
        print(
            f"{function}  {count} message(s) in {dlq} could not be listed "
            "(unreadable, in flight, or arrived since): see the runtime's and moto's stderr, then run `dlq list` again"
        )
    if not messages and not unlisted:
        print("DLQs are empty")
    return 1 if unlisted else 0


def _dlq_unlisted(args: argparse.Namespace, listed: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(function, DLQ name, messages SQS counts but `dlq list` did not return) for every DLQ holding more."""
    import boto3
    from botocore.exceptions import ClientError

    state = _state(args)
    status = ControlClient(state["control"]).call("GET", "/status")
    sqs = boto3.client(
        "sqs",
        endpoint_url=state["moto"],
        region_name=state["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    names = (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    out = []
    for fn in status["functions"]:
        if args.function and args.function not in (fn["function"], fn["physical_name"]):
            continue
        dlq = f"{fn['physical_name']}-dlq"  # devtools.manifest.dlq_name
        try:
            url = sqs.get_queue_url(QueueName=dlq)["QueueUrl"]
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code")
            if code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                continue  # HTTP functions have no DLQ
            raise
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names))["Attributes"]
        held = sum(int(attributes.get(name, 0)) for name in names)
        shown = sum(1 for m in listed if m.get("function") == fn["function"])
        if held > shown:
            out.append((fn["function"], dlq, held - shown))
    return out


def format_trace(steps: list[dict[str, Any]]) -> list[str]:
    if not steps:
        return [
            "nothing recorded for this id (an EventBridge id, metadata.event_id, SQS message id, "
            "HTTP request id or s3://bucket/key)"
        ]
    t0 = steps[0]["at"]
    lines = []
    for step in steps:
        offset = f"+{(step['at'] - t0) * 1000:8.1f} ms"
        if step["kind"] == "publish":
            lines.append(
                f"{offset}  published  {step['source']}/{step['detail_type']}  id={step['id']}"
                + (f"  caused by {step['causation_id']}" if step.get("causation_id") else "")
            )
            continue
        recs = step["records"]
        waited = [r["queued_ms"] for r in recs if r.get("queued_ms") is not None]
        wait = f"  waited {max(waited):.1f} ms" if waited else ""
        cold = f"  cold start {step['init_ms']:.0f} ms" if step.get("cold") and step.get("init_ms") else ""
        outcome = (
            "ok"
            if all(r["ok"] for r in recs) and step["ok"]
            else "FAILED: " + "; ".join(r["reason"] for r in recs if not r["ok"])
            if recs
            else (step.get("error") or "FAILED")
        )
        attempt = f"  attempt {recs[0]['receive_count']}" if recs and recs[0].get("receive_count") else ""
        lines.append(
            f"{offset}  {step['function']:<28} ({step['trigger']}){attempt}{wait}{cold}  "
            f"ran {step['duration_ms']:.1f} ms  {outcome}"
        )
        for call in step.get("emits") or []:
            for ev in call.get("events", []):
                lines.append(f"{'':>14}    -> put {ev['source']}/{ev['detail_type']} id={ev['id']}")
    return lines


def cmd_trace(args: argparse.Namespace) -> int:
    steps = _control(args).call("GET", f"/trace?id={args.id}")
    if args.json:
        print(json.dumps(steps, indent=2, default=str))
    else:
        print("\n".join(format_trace(steps)))
    return 0 if steps else 1


def cmd_faults(args: argparse.Namespace) -> int:
    changes = {
        k: v
        for k, v in {
            "duplicate_rate": args.duplicate_rate,
            "failure_rate": args.failure_rate,
            "latency_ms": args.latency_ms,
            "functions": args.function,
        }.items()
        if v is not None
    }
    print(json.dumps(_control(args).call("POST", "/faults", changes), indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from devtools.local.demo import run_demo

    return run_demo(
        [Path(p) for p in args.services] or [mf.SERVICES_DIR],
        Path(args.state_dir),
        schedule_speed=args.schedule_speed or 60.0,
        max_workers=args.max_workers,
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from devtools.local.bench import run_bench

    return run_bench(events=args.events, latency_samples=args.latency_samples, max_workers=args.max_workers)


def cmd_soak(args: argparse.Namespace) -> int:
    from devtools.local.soak import run_from_args

    return run_from_args(args)


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _runtime_options(parser: argparse.ArgumentParser) -> None:
    from devtools.local.runtime import DEFAULT_MAX_WORKERS

    parser.add_argument(
        "--max-workers",
        type=int,
        default=int(os.environ.get("LOCAL_MAX_WORKERS", DEFAULT_MAX_WORKERS)),
        help="execution environments per function at most (the manifest's reserved_concurrency and "
        f"maximum_concurrency apply below it; default {DEFAULT_MAX_WORKERS}, env LOCAL_MAX_WORKERS)",
    )
    parser.add_argument(
        "--schedule-speed",
        type=_positive,
        default=None,
        help="schedules run this many times faster (60: a minute passes in a second); default 1 for up, 60 for demo",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="where runtime.json and logs live")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the system in the foreground")
    up.add_argument("--services", action="append", default=[], help="folder of services (repeatable)")
    up.add_argument("--env", default="local")
    up.add_argument("--region", default="eu-west-1")
    up.add_argument("--aws-port", type=int, default=int(os.environ.get("LOCAL_AWS_PORT", "4566")))
    up.add_argument("--http-port", type=int, default=int(os.environ.get("LOCAL_HTTP_PORT", "3000")))
    up.add_argument("--control-port", type=int, default=int(os.environ.get("LOCAL_CONTROL_PORT", "4567")))
    up.add_argument(
        "--retry-after",
        type=float,
        default=2.0,
        help="seconds until a failed SQS record is retried (-1: the queue's visibility timeout)",
    )
    _runtime_options(up)
    up.add_argument("--duplicate-rate", type=float, default=0.0)
    up.add_argument("--failure-rate", type=float, default=0.0)
    up.add_argument("--latency-ms", type=float, default=0.0)
    up.add_argument(
        "--fresh",
        action="store_true",
        help="start empty: discard the state a previous run left in --state-dir (default: bring it back)",
    )
    up.add_argument(
        "--snapshot-seconds",
        type=float,
        default=float(os.environ.get("LOCAL_SNAPSHOT_SECONDS", DEFAULT_SNAPSHOT_SECONDS)),
        help="save the state this often (a kill -9 loses at most this much; 0: only on stop; "
        f"default {DEFAULT_SNAPSHOT_SECONDS:g}, env LOCAL_SNAPSHOT_SECONDS)",
    )
    up.add_argument(
        "--function-env",
        action="append",
        default=[],
        metavar="FUNCTION:NAME=VALUE",
        help="override a function's environment variable, as update-function-configuration would "
        "(repeatable), e.g. shipping.carrier_handover:CARRIER_TRANSIT_SECONDS=5",
    )
    up.set_defaults(func=cmd_up)

    st = sub.add_parser("status", help="functions, cold starts, memory")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)

    pub = sub.add_parser("publish", help="put an event on the bus")
    pub.add_argument("source")
    pub.add_argument("detail_type")
    pub.add_argument("--data", help="JSON for detail.data (metadata is generated); @file reads a file")
    pub.add_argument("--detail", help="the whole detail as JSON (no envelope added)")
    pub.add_argument("--bus")
    pub.set_defaults(func=cmd_publish)

    inv = sub.add_parser("invoke", help="invoke a function directly")
    inv.add_argument("function", help="service.function or the physical name")
    inv.add_argument("--event", help="JSON event, or @file")
    inv.add_argument("--show-log", action="store_true")
    inv.set_defaults(func=cmd_invoke)

    tick = sub.add_parser("tick", help="run a scheduled function now")
    tick.add_argument("function", help="service.function or the physical name")
    tick.add_argument("--show-log", action="store_true")
    tick.set_defaults(func=cmd_tick)

    mails = sub.add_parser("emails", help="emails SES (moto) has sent")
    mails.add_argument("--json", action="store_true")
    mails.set_defaults(func=cmd_emails)

    tok = sub.add_parser("token", help="sign a local user up/in and print a token for the HTTP API")
    tok.add_argument("--user", required=True, help="a name (alice -> alice@users.example) or an email")
    tok.add_argument("--staff", action="store_true", help="put the user in the `staff` group")
    tok.add_argument("--id-token", action="store_true", help="print the ID token instead of the access token")
    tok.add_argument("--json", action="store_true", help="the token with its user, sub and claims")
    tok.set_defaults(func=cmd_token)

    logs = sub.add_parser("logs", help="function logs")
    logs.add_argument("function", nargs="?")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.set_defaults(func=cmd_logs)

    dlq = sub.add_parser("dlq", help="list or redrive DLQ messages")
    dlq.add_argument("action", choices=["list", "redrive"])
    dlq.add_argument("function", nargs="?")
    dlq.set_defaults(func=cmd_dlq)

    tr = sub.add_parser("trace", help="follow one event through the system")
    tr.add_argument("id")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(func=cmd_trace)

    fa = sub.add_parser("faults", help="fault injection on the running runtime")
    fa.add_argument("--duplicate-rate", type=float)
    fa.add_argument("--failure-rate", type=float)
    fa.add_argument("--latency-ms", type=float)
    fa.add_argument("--function", action="append", help="limit to these functions (repeatable)")
    fa.set_defaults(func=cmd_faults)

    demo = sub.add_parser("demo", help="start, run every service's scenario, stop")
    demo.add_argument("--services", action="append", default=[])
    _runtime_options(demo)
    demo.set_defaults(func=cmd_demo)

    bench = sub.add_parser("bench", help="events/s and latency vs a bare boto3 loop")
    bench.add_argument("--events", type=int, default=300)
    bench.add_argument("--latency-samples", type=int, default=100)
    bench.add_argument("--max-workers", type=int, default=4, help="batches in flight at most (1: one at a time)")
    bench.set_defaults(func=cmd_bench)

    from devtools.local.soak import add_arguments as soak_arguments

    soak = sub.add_parser("soak", help="sustained orders against a fresh runtime: memory, latency, DLQ, restart")
    soak_arguments(soak)
    soak.set_defaults(func=cmd_soak)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
