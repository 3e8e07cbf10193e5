"""`make demo`: start the runtime, drive a scenario through every service, summarise, stop.

Each service may contribute its scenario in `services/<name>/demo.py` (not shipped in the zip):

    def scenario(demo):
        resp = demo.http("POST", "/webhooks/github", json={...}, headers={...})
        demo.expect(resp.status == 202, "GitHub delivery accepted")
        demo.expect_invoked("record_delivery", key=resp.json()["event_id"], what="delivery recorded")
        item = demo.eventually(lambda: demo.get_item("deliveries", {"delivery_id": {"S": "d-1"}}),
                               "audit row written")

Routes declared `customer` or `staff` need a token, as on AWS: `demo.http(..., user="anna")` signs
the local user up (the first time) or in against the runtime's user pool and sends their access
token; `staff=True` puts them in the `staff` group (devtools.local.identity).

A service without demo.py gets the generic smoke scenario: one request (as a staff user), event,
message, object or item per function, expecting that the function ran (its handler imported and
was called).
The demo exits 0 only if every expectation held, and stops everything it started.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools import manifest as mf
from devtools.local.runtime import Runtime, RuntimeConfig, envelope


class ExpectationFailed(AssertionError):
    pass


@dataclass
class Outcome:
    service: str
    what: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class Demo:
    """What a scenario gets: drive the system and state what must happen."""

    def __init__(self, runtime: Runtime, service: mf.Service) -> None:
        self.runtime = runtime
        self.service = service
        self.outcomes: list[Outcome] = []
        self._t0 = time.perf_counter()
        self._users: Any = None

    # -- driving
    def client(self, name: str) -> Any:
        return self.runtime.client(name)

    def table(self, name: str) -> str:
        return self.runtime.topology.tables[str(mf.Ref.parse(name, self.service.name))]

    def bucket(self, name: str) -> str:
        return self.runtime.topology.buckets[str(mf.Ref.parse(name, self.service.name))]

    def topic_arn(self, name: str) -> str:
        return self.runtime.topology.topics[str(mf.Ref.parse(name, self.service.name))]

    def token(self, user: str, *, staff: bool = False) -> Any:
        """A local user's tokens (devtools.local.identity.Tokens: `.headers`, `.sub`), signed up on first use."""
        if self._users is None:
            from devtools.local.identity import Users

            assert self.runtime.topology.user_pool is not None
            self._users = Users(self.runtime.client("cognito-idp"), self.runtime.topology.user_pool)
        return self._users.token(user, staff=staff)

    def http(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        user: str | None = None,
        staff: bool = False,
        **kwargs: Any,
    ) -> Response:
        """A request to the local HTTP API; `user`: sent with that local user's access token."""
        if "json" in kwargs:
            json_body = kwargs.pop("json")
        data = body.encode() if isinstance(body, str) else body
        hdrs = {**(self.token(user, staff=staff).headers if user else {}), **(headers or {})}
        if json_body is not None:
            data = json.dumps(json_body).encode()
            hdrs.setdefault("content-type", "application/json")
        assert self.runtime.gateway is not None
        req = urllib.request.Request(self.runtime.gateway.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return Response(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return Response(err.code, dict(err.headers), err.read())

    def publish(
        self, detail_type: str, data: dict[str, Any], *, source: str | None = None, detail: dict[str, Any] | None = None
    ) -> str:
        """Put an event (architecture envelope around `data`) on the bus; returns the EventBridge id."""
        source = source or self.service.name
        detail = detail or envelope(data, producer=source, region=self.runtime.config.region)
        return self.runtime.publish(source, detail_type, detail)

    def invoke(self, function: str, event: Any) -> Any:
        return self.runtime.invoke(self._qualified(function), event)

    def tick(self, function: str) -> Any:
        """Run a scheduled function now, with the event its schedule sends."""
        return self.runtime.tick(self._qualified(function))

    def emails(self) -> list[dict[str, Any]]:
        """Emails SES (moto) accepted so far, oldest first (`to`, `subject`, `text`, `html`, `sent_at`)."""
        return self.runtime.emails()

    def put_object(self, bucket: str, key: str, body: bytes | str = b"demo") -> str:
        name = self.bucket(bucket)
        self.client("s3").put_object(Bucket=name, Key=key, Body=body)
        return f"s3://{name}/{key}"

    def get_item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        return self.client("dynamodb").get_item(TableName=self.table(table), Key=key).get("Item")

    # -- expectations
    def _record(self, ok: bool, what: str, detail: str = "") -> None:
        now = time.perf_counter()
        self.outcomes.append(Outcome(self.service.name, what, ok, detail, now - self._t0))
        self._t0 = now
        if not ok:
            raise ExpectationFailed(f"{what}: {detail}")

    def expect(self, condition: Any, what: str, detail: str = "") -> None:
        self._record(bool(condition), what, detail)

    def eventually(self, check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
        deadline = time.time() + timeout
        while True:
            value = check()
            if value:
                self._record(True, what)
                return value
            if time.time() > deadline:
                self._record(False, what, f"not observed within {timeout:.0f} s")
            time.sleep(0.1)

    def _qualified(self, function: str) -> str:
        return function if "." in function else f"{self.service.name}.{function}"

    def expect_invoked(
        self,
        function: str,
        *,
        key: str | None = None,
        since: float = 0.0,
        ok: bool | None = True,
        what: str | None = None,
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        """Wait until `function` handled a record carrying `key` (event id, message id, s3://...)."""
        name = self._qualified(function)
        found: dict[str, Any] = {}

        def match(journal) -> bool:
            for entry in journal.entries(name):
                if entry.invocation.started < since:
                    continue
                recs = [r for r in entry.records if key is None or key in r.keys]
                if not recs:
                    continue
                error = entry.invocation.error or {}
                if ok is None:
                    good = not str(error.get("errorType", "")).startswith("Runtime.")
                else:
                    good = entry.invocation.ok and all(r.ok for r in recs)
                if good == (ok is not False):
                    found.update(entry.to_dict())
                    return True
                found.setdefault("last_error", entry.invocation.error_text or "; ".join(r.reason for r in recs))
            return False

        reached = self.runtime.wait_for(match, timeout)
        label = what or f"{name} handled {key or 'the input'}"
        detail = "" if reached else f"not observed within {timeout:.0f} s {found.get('last_error', '')}".strip()
        self._record(reached, label, detail)
        return found


# --------------------------------------------------------------------------- generic scenario


def _sample_from_filter(policy: dict[str, Any]) -> dict[str, Any]:
    attrs = {}
    for name, values in policy.items():
        first = (
            next((v for v in values if isinstance(v, (str, int, float))), None) if isinstance(values, list) else None
        )
        if first is not None:
            attrs[name] = {
                "DataType": "Number" if isinstance(first, (int, float)) else "String",
                "StringValue": str(first),
            }
    return attrs


def generic_scenario(demo: Demo) -> None:
    """Reach every function once; expect its handler to be imported and called."""
    for fn in demo.service.functions:
        trig = fn.trigger
        since = time.time()
        label = f"{fn.qualified_name} ({trig.type}) ran"
        if trig.type == "http":
            method, template = trig.routes[0]
            path = "/".join("demo" if p.startswith("{") else p for p in template.split("/"))
            user = "demo-ops" if trig.route_access[0].access != "public" else None  # staff pass every authorizer
            body = {} if method in ("POST", "PUT", "PATCH") else None
            resp = demo.http(method, path, json_body=body, user=user, staff=user is not None)
            rid = resp.headers.get("apigw-requestid")
            demo.expect_invoked(
                fn.name, key=rid, since=since, ok=None, what=f"{label}: {method} {path} -> {resp.status}"
            )
        elif trig.type == "eventbridge":
            source, detail_type = trig.events[0]
            event_id = demo.publish(detail_type, {}, source=source)
            demo.expect_invoked(fn.name, key=event_id, since=since, ok=None, what=f"{label}: {source}/{detail_type}")
        elif trig.type == "sns":
            arn = demo.runtime.topology.topics[str(trig.topic)]
            attrs = _sample_from_filter(trig.raw.get("filter_policy") or {})
            demo.client("sns").publish(TopicArn=arn, Message="{}", MessageAttributes=attrs)
            # raw delivery: the SNS message id does not reach the queue, so any invocation since counts
            demo.expect_invoked(fn.name, since=since, ok=None, what=f"{label}: message on {trig.topic}")
        elif trig.type == "s3":
            key = f"{trig.raw.get('prefix', '')}demo-{int(since)}{trig.raw.get('suffix', '.txt')}"
            bucket = demo.runtime.topology.buckets[str(trig.bucket)]
            demo.client("s3").put_object(Bucket=bucket, Key=key, Body=b"demo")
            demo.expect_invoked(fn.name, key=f"s3://{bucket}/{key}", since=since, ok=None, what=f"{label}: {key}")
        elif trig.type == "dynamodb_stream":
            spec = demo.service.tables[trig.table or ""]
            item = {
                spec["hash_key"]["name"]: {spec["hash_key"]["type"]: "demo" if spec["hash_key"]["type"] == "S" else "1"}
            }
            if spec.get("range_key"):
                rk = spec["range_key"]
                item[rk["name"]] = {rk["type"]: "demo" if rk["type"] == "S" else "1"}
            demo.client("dynamodb").put_item(TableName=demo.table(trig.table or ""), Item=item)
            demo.expect_invoked(fn.name, since=since, ok=None, what=f"{label}: item in {trig.table}")
        elif trig.type == "schedule":
            inv = demo.runtime.tick(fn.qualified_name)
            error = (inv.error or {}).get("errorType", "")
            demo.expect(not error.startswith("Runtime."), label, inv.error_text)


def load_scenario(service: mf.Service) -> tuple[Callable[[Demo], None], str]:
    path = service.path / "demo.py"
    if not path.exists():
        return generic_scenario, "generic smoke"
    # A scenario may use its service's pure code (e.g. a signer); src/ is what the zip holds.
    if str(service.src_dir) not in sys.path:
        sys.path.insert(0, str(service.src_dir))
    spec = importlib.util.spec_from_file_location(f"_demo_{service.name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.scenario, str(path.relative_to(mf.REPO_ROOT)) if path.is_relative_to(mf.REPO_ROOT) else str(path)


# --------------------------------------------------------------------------- run


def run_demo(
    services_roots: list[Path], state_root: Path, *, schedule_speed: float = 60.0, max_workers: int | None = None
) -> int:
    from devtools.local.__main__ import format_emails, format_trace

    state_root.mkdir(parents=True, exist_ok=True)
    state_dir = Path(tempfile.mkdtemp(prefix="demo-", dir=state_root))
    config = RuntimeConfig(
        services_roots=services_roots, state_dir=state_dir, retry_after=1.0, schedule_speed=schedule_speed
    )
    if max_workers:
        config.max_workers = max_workers
    outcomes: list[Outcome] = []
    t0 = time.perf_counter()
    with Runtime(config) as runtime:
        print(
            f"runtime up in {runtime.startup_ms / 1000:.1f} s: aws={runtime.moto_url} "
            f"http={runtime.gateway.url if runtime.gateway else '-'}  ({len(runtime.services)} services)"
        )
        first_keys: list[str] = []
        for service in runtime.services:
            demo = Demo(runtime, service)
            try:
                scenario, origin = load_scenario(service)  # a broken demo.py fails its service only
                print(f"\n== {service.name}  ({origin})")
                scenario(demo)
            except ExpectationFailed:
                pass
            except Exception as exc:
                demo.outcomes.append(
                    Outcome(
                        service.name,
                        "scenario raised",
                        False,
                        f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}",
                        0,
                    )
                )
            for o in demo.outcomes:
                mark = "ok  " if o.ok else "FAIL"
                detail = o.detail if not o.ok or len(o.detail) <= 160 else o.detail[:157] + "..."  # failures in full
                print(f"  [{mark}] {o.what}  ({o.seconds:.2f} s){'  -- ' + detail if detail else ''}")
            outcomes.extend(demo.outcomes)
            for entry in runtime.journal.entries():
                keys = entry.records[0].keys if entry.records else []
                if entry.function.startswith(service.name + ".") and keys and keys[-1] not in first_keys:
                    first_keys.append(keys[-1])
                    break
        print("\n== functions")
        print(f"  {'function':<32} {'cold start':>10} {'invocations':>11} {'errors':>6} {'max RSS':>8}")
        for stats in runtime.status()["functions"]:
            init = f"{stats['init_ms']:.0f} ms" if stats["init_ms"] else "-"
            rss = f"{stats['max_rss_mb']:.0f} MB" if stats["max_rss_mb"] else "-"
            print(f"  {stats['function']:<32} {init:>10} {stats['invocations']:>11} {stats['errors']:>6} {rss:>8}")
        for key in [k for k in first_keys if k][:3]:
            print(f"\n== trace {key}")
            for line in format_trace(runtime.trace(key)):
                print("  " + line)
        try:
            emails = runtime.emails()
        except OSError as exc:
            emails = []
            print(f"\n== emails: could not read them from moto ({exc})")
        if emails:
            print(f"\n== emails: {len(emails)} sent through SES (python -m devtools.local emails)")
            for line in format_emails(emails[-3:])[:-1]:
                print("  " + line)
    failed = [o for o in outcomes if not o.ok]
    total = time.perf_counter() - t0
    print(
        f"\n{len(outcomes) - len(failed)}/{len(outcomes)} expected outcomes observed in {total:.1f} s; "
        f"runtime stopped" + (f"; FAILED: {', '.join(o.what for o in failed)}" if failed else "")
    )
    return 0 if outcomes and not failed else 1
