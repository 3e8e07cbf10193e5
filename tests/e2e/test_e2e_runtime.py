"""End to end on the local runtime: wiring, partial batches, DLQ, timeouts, redrive, duplicates.

The fixture services (fixtures/services) are plain handlers that write their side effects to
DynamoDB, so every assertion is on an observable effect or on the runtime's journal.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime

import pytest

from devtools.local.runtime import envelope

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-local-runtime")]

WAIT = 20.0
ISO = "%Y-%m-%dT%H:%M:%SZ"


def publish(runtime, detail_type: str, data: dict) -> tuple[str, str]:
    """Publish a fixture event; returns (EventBridge id, metadata.event_id)."""
    detail = envelope(data, producer="fxsource")
    return runtime.publish("fxsource", detail_type, detail), detail["metadata"]["event_id"]


def handled(runtime, function: str, key: str, ok: bool = True):
    """Predicate: `function` handled a record carrying `key` with the given outcome."""

    def check(journal) -> bool:
        return any(rec.ok == ok and key in rec.keys for entry in journal.entries(function) for rec in entry.records)

    return check


def item(ddb, table: str, pk: str) -> dict | None:
    return ddb.get_item(TableName=table, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")


def counter(ddb, runtime, name: str) -> int:
    found = item(ddb, runtime.topology.tables["fxsink:effects"], f"counter#{name}")
    return int(found["n"]["N"]) if found else 0


def test_published_event_reaches_every_subscriber(runtime, ddb):
    eb_id, event_id = publish(runtime, "ThingHappened", {"value": 7})

    assert runtime.wait_for(handled(runtime, "fxsink.record", eb_id), WAIT)
    assert runtime.wait_for(handled(runtime, "fxaudit.listen", eb_id), WAIT)
    assert item(ddb, runtime.topology.tables["fxsink:effects"], f"record#{event_id}")["value"] == {"S": "7"}
    seen = item(ddb, runtime.topology.tables["fxaudit:seen"], f"ThingHappened#{eb_id}")
    # the EventBridge envelope reached the handler as AWS sends it (account included)
    assert seen["account"] == {"S": runtime.config.account_id}
    assert seen["function"] == {"S": "local-fxaudit-listen"}

    steps = runtime.trace(event_id)
    assert steps[0]["kind"] == "publish" and steps[0]["id"] == eb_id
    assert {s["function"] for s in steps if s["kind"] == "invoke"} == {"fxsink.record", "fxaudit.listen"}


def test_sqs_record_has_the_shape_lambda_sends(runtime):
    eb_id, _ = publish(runtime, "ThingHappened", {"value": 1})
    assert runtime.wait_for(handled(runtime, "fxsink.record", eb_id), WAIT)
    wiring = runtime.topology.function("fxsink.record")
    invocation = runtime.invoke("fxsink.record", {"Records": []})  # an empty batch is valid
    assert invocation.ok and invocation.result == {"batchItemFailures": []}
    entry = next(e for e in runtime.journal.entries("fxsink.record") if any(eb_id in r.keys for r in e.records))
    assert entry.invocation.ok
    # the record as the handler saw it is rebuilt from the queue message: check the contract fields
    record = json.loads(json.dumps(entry.records[0].__dict__))
    assert record["receive_count"] == 1
    assert wiring.queue_arn == f"arn:aws:sqs:eu-west-1:{runtime.config.account_id}:local-fxsink-record"


def test_schema_invalid_record_goes_to_dlq_with_reason_while_batch_succeeds(runtime, ddb):
    runtime.set_enabled("fxsink.record", False)  # let the four events queue up: one batch
    try:
        good = [publish(runtime, "ThingHappened", {"value": i}) for i in range(3)]
        bad_eb_id, bad_event_id = publish(runtime, "ThingHappened", {"value": "not-a-number"})
        time.sleep(0.3)
    finally:
        runtime.set_enabled("fxsink.record", True)

    assert runtime.wait_for(handled(runtime, "fxsink.record", bad_eb_id, ok=False), WAIT)
    first = next(e for e in runtime.journal.entries("fxsink.record") if any(bad_eb_id in r.keys for r in e.records))
    outcomes = {r.keys[1]: r.ok for r in first.records}
    assert outcomes[bad_eb_id] is False
    assert all(outcomes[eb_id] for eb_id, _ in good), "the valid records of the same batch succeed"
    for _, event_id in good:
        assert item(ddb, runtime.topology.tables["fxsink:effects"], f"record#{event_id}") is not None

    def in_dlq(_journal) -> bool:
        return any(bad_event_id in m["body"] for m in runtime.dlq_list("fxsink.record"))

    assert _poll(in_dlq), "after max_receive_count receives the record is in the DLQ"
    [message] = [m for m in runtime.dlq_list("fxsink.record") if bad_event_id in m["body"]]
    assert "data.value must be an integer" in message["reason"]
    assert message["receive_count"] == 2  # max_receive_count in the manifest
    attempts = [e for e in runtime.journal.entries("fxsink.record") if any(bad_eb_id in r.keys for r in e.records)]
    assert len(attempts) == 2
    # the valid records were deleted after the first attempt: never delivered again
    for eb_id, _ in good:
        assert sum(eb_id in r.keys for e in runtime.journal.entries("fxsink.record") for r in e.records) == 1


def test_function_exceeding_its_timeout_is_killed_and_retried(runtime, ddb):
    eb_id, event_id = publish(runtime, "ThingSlow", {"value": 1})

    assert runtime.wait_for(handled(runtime, "fxsink.slow", eb_id, ok=True), WAIT)
    attempts = [e for e in runtime.journal.entries("fxsink.slow") if any(eb_id in r.keys for r in e.records)]
    assert [a.invocation.ok for a in attempts] == [False, True]
    assert attempts[0].invocation.error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in attempts[0].records[0].reason
    assert attempts[1].invocation.cold, "the environment was killed: the retry is a cold start"
    effect = item(ddb, runtime.topology.tables["fxsink:effects"], f"slow#{event_id}")
    assert effect["attempt"] == {"S": "2"}


def test_a_function_over_its_memory_is_stopped_mid_invocation(runtime):
    """128 MB function holding 300 MB for 10 s: stopped while it runs, not after it returns."""
    event = {"routeKey": "POST /hog", "body": json.dumps({"mb": 300, "hold_s": 10})}
    outcome = runtime.invoke("fxsink.hog", event)
    assert not outcome.ok
    assert outcome.error["errorType"] == "Runtime.OutOfMemory", outcome.error
    assert "> 128 MB" in outcome.error["errorMessage"]
    assert outcome.result is None  # stopped while holding the memory: the handler never returned
    fits = runtime.invoke("fxsink.hog", {"routeKey": "POST /hog", "body": json.dumps({"mb": 1, "hold_s": 0})})
    assert fits.ok and fits.cold  # the killed environment was replaced by a new one


def test_redrive_brings_a_dlq_message_back_and_it_is_processed(runtime, ddb):
    runtime.set_faults(failure_rate=1.0, fail_retries=True, functions=["fxsink.record"])
    try:
        eb_id, event_id = publish(runtime, "ThingHappened", {"value": 42})
        assert _poll(lambda _: any(event_id in m["body"] for m in runtime.dlq_list("fxsink.record")))
    finally:
        runtime.set_faults(failure_rate=0.0, fail_retries=False, functions=[])
    [message] = [m for m in runtime.dlq_list("fxsink.record") if event_id in m["body"]]
    assert "fault injection" in message["reason"]
    assert item(ddb, runtime.topology.tables["fxsink:effects"], f"record#{event_id}") is None

    moved = runtime.redrive("fxsink.record")
    assert moved["fxsink.record"] >= 1

    assert runtime.wait_for(handled(runtime, "fxsink.record", eb_id, ok=True), WAIT)
    assert item(ddb, runtime.topology.tables["fxsink:effects"], f"record#{event_id}")["value"] == {"S": "42"}
    assert not any(event_id in m["body"] for m in runtime.dlq_list("fxsink.record"))
    attempts = [s["ok"] for s in runtime.trace(event_id) if s.get("function") == "fxsink.record"]
    assert attempts == [False, False, True]  # two failed receives, then the redriven message


def test_every_message_delivered_twice_has_its_side_effect_once(runtime, ddb):
    before = counter(ddb, runtime, "record")
    runtime.set_faults(duplicate_rate=1.0, functions=["fxsink.record"])
    try:
        sent = [publish(runtime, "ThingHappened", {"value": i}) for i in range(5)]

        def delivered_twice(journal) -> bool:
            return all(
                sum(eb_id in r.keys for e in journal.entries("fxsink.record") for r in e.records) >= 2
                for eb_id, _ in sent
            )

        assert runtime.wait_for(delivered_twice, WAIT), "fault injection delivered every record twice"
    finally:
        runtime.set_faults(duplicate_rate=0.0, functions=[])
    duplicates = [e for e in runtime.journal.entries("fxsink.record") if e.note.startswith("duplicate")]
    assert duplicates and all(e.invocation.ok for e in duplicates)
    assert counter(ddb, runtime, "record") - before == 5


def test_http_route_to_outbox_relay_to_subscriber_is_traced(runtime, signed_in):
    gateway = runtime.gateway.url
    req = urllib.request.Request(
        f"{gateway}/things?x=1",
        data=json.dumps({"name": "lamp"}).encode(),
        method="POST",
        headers={"content-type": "application/json", **signed_in},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 201
        request_id = resp.headers["apigw-requestid"]
        body = json.loads(resp.read())
    assert body["request_id"] == request_id

    # POST -> outbox table -> stream -> relay publishes ThingRelayed -> fxaudit.listen
    def relayed(journal) -> bool:
        return any(p["causation_id"] == body["id"] for p in journal.publishes.values()) and any(
            body["id"] in r.keys for e in journal.entries("fxsink.relay") for r in e.records
        )

    assert runtime.wait_for(relayed, WAIT)
    relayed_id = next(p["id"] for p in runtime.journal.publishes.values() if p["causation_id"] == body["id"])
    assert runtime.wait_for(handled(runtime, "fxaudit.listen", relayed_id), WAIT)
    order = [s.get("function", "publish") for s in runtime.trace(request_id)]
    assert order == ["fxsink.api", "fxsink.relay", "publish", "fxaudit.listen"]

    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(urllib.request.Request(f"{gateway}/things/nope", headers=signed_in), timeout=10)
    assert missing.value.code == 404 and json.loads(missing.value.read()) == {"message": "not found"}
    with pytest.raises(urllib.error.HTTPError) as no_route:
        urllib.request.urlopen(f"{gateway}/nowhere", timeout=10)
    assert no_route.value.code == 404 and json.loads(no_route.value.read())["title"] == "Not Found"  # a problem


def test_s3_object_under_the_prefix_triggers_the_function(runtime, ddb):
    s3 = runtime.client("s3")
    bucket = runtime.topology.buckets["fxsink:inbox"]
    s3.put_object(Bucket=bucket, Key="out/ignored.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="in/report 1.txt", Body=b"hello")

    assert runtime.wait_for(handled(runtime, "fxsink.upload", f"s3://{bucket}/in/report 1.txt"), WAIT)
    # S3 URL-encodes the key in the notification (space -> +) and keeps the slashes
    assert item(ddb, runtime.topology.tables["fxsink:effects"], f"upload#{bucket}/in/report+1.txt")
    assert not any(
        f"s3://{bucket}/out/ignored.txt" in r.keys for e in runtime.journal.entries("fxsink.upload") for r in e.records
    )
    assert [s["function"] for s in runtime.trace(f"s3://{bucket}/in/report 1.txt")] == ["fxsink.upload"]


def test_sns_filter_policy_selects_what_the_subscriber_gets(runtime, ddb):
    sns = runtime.client("sns")
    topic = runtime.topology.topics["fxsink:alerts"]
    attrs = lambda level: {"severity": {"DataType": "String", "StringValue": level}}  # noqa: E731
    low, high = f"low-{uuid.uuid4()}", f"high-{uuid.uuid4()}"
    sns.publish(
        TopicArn=topic, Message=json.dumps({"alert_id": low, "text": "disk at 60%"}), MessageAttributes=attrs("low")
    )
    sns.publish(
        TopicArn=topic, Message=json.dumps({"alert_id": high, "text": "disk full"}), MessageAttributes=attrs("high")
    )

    effects = runtime.topology.tables["fxsink:effects"]
    assert _poll(lambda _: item(ddb, effects, f"alert#{high}"))
    stored = item(ddb, effects, f"alert#{high}")
    assert (stored["message"], stored["severity"]) == ({"S": "disk full"}, {"S": "high"})  # raw delivery
    assert item(ddb, effects, f"alert#{low}") is None


def test_functions_run_isolated_with_the_manifest_environment(runtime):
    event = {"Records": []}
    runtime.invoke("fxsink.api", {"routeKey": "GET /things/{id}", "pathParameters": {"id": "none"}})
    stats = {s["function"]: s for s in runtime.status()["functions"]}
    assert stats["fxsink.api"]["pid"] != stats["fxsink.record"]["pid"] or not stats["fxsink.record"]["warm"]
    assert stats["fxsink.api"]["init_ms"] > 0 and stats["fxsink.api"]["max_rss_mb"] > 0
    wiring = runtime.topology.function("fxsink.api")
    assert wiring.environment["TABLE_OUTBOX"] == "local-fxsink-outbox"
    assert wiring.environment["EVENT_BUS_NAME"] == "eda-local"
    assert runtime.invoke("fxaudit.listen", event).ok


def _poll(check, timeout: float = WAIT) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check(None):
            return True
        time.sleep(0.2)
    return False


def _intervals(runtime, function: str, keys: set[str]) -> list[tuple[float, float, int]]:
    """(handler start, end, environment) of the invocations of `function` that carried one of `keys`."""
    return sorted(
        (e.invocation.started, e.invocation.ended, e.invocation.environment)
        for e in runtime.journal.entries(function)
        if any(keys & set(r.keys) for r in e.records)
    )


def _max_overlap(intervals: list[tuple[float, float, int]]) -> int:
    """Most invocations running at the same instant (sweep over start/end points)."""
    points = sorted([(start, 1) for start, _, _ in intervals] + [(end, -1) for _, end, _ in intervals])
    running = peak = 0
    for _, delta in points:  # at equal times an end (-1) sorts before a start: touching is not overlapping
        running += delta
        peak = max(peak, running)
    return peak


def test_sqs_batches_run_concurrently_up_to_the_limit_and_serially_with_reserved_concurrency_1(runtime):
    for fn in ("fxsink.sleepy", "fxsink.serial"):
        runtime.set_enabled(fn, False)  # let the four events queue up: they arrive "at once"
    try:
        sent = [publish(runtime, "ThingSleepy", {"value": i}) for i in range(4)]
        time.sleep(0.3)
    finally:
        for fn in ("fxsink.sleepy", "fxsink.serial"):
            runtime.set_enabled(fn, True)
    keys = {eb_id for eb_id, _ in sent}

    def all_done(function):
        return lambda journal: (
            sum(1 for e in journal.entries(function) for r in e.records if r.ok and keys & set(r.keys)) >= len(keys)
        )

    assert runtime.wait_for(all_done("fxsink.sleepy"), WAIT)
    assert runtime.wait_for(all_done("fxsink.serial"), WAIT)

    parallel = _intervals(runtime, "fxsink.sleepy", keys)
    serial = _intervals(runtime, "fxsink.serial", keys)
    assert len(parallel) == len(serial) == 4, "batch_size 1: one invocation per event"
    # maximum_concurrency 3: batches overlapped, on more than one environment, never more than three
    assert 2 <= _max_overlap(parallel) <= 3, parallel
    assert len({env for _, _, env in parallel}) >= 2
    # reserved_concurrency 1: one environment, each invocation after the previous one ended
    assert _max_overlap(serial) == 1, serial
    assert {env for _, _, env in serial} == {1}
    stats = {s["function"]: s for s in runtime.status()["functions"]}
    assert stats["fxsink.sleepy"]["concurrency"] == 3 and stats["fxsink.serial"]["concurrency"] == 1
    assert stats["fxsink.sleepy"]["cold_starts"] == len({env for _, _, env in parallel}), "one cold start per env"
    assert stats["fxsink.serial"]["cold_starts"] == 1 and stats["fxsink.serial"]["peak_concurrency"] == 1


def test_a_function_allowed_to_send_email_sends_through_ses_and_emails_lists_it(runtime):
    assert runtime.topology.ses_identities == ["Fixture Shop <shop@fixture.example>"]
    subject = f"Your order {time.time_ns()}"
    eb_id, _ = publish(runtime, "MailRequested", {"to": "ada@example.org", "subject": subject, "name": "Ada"})

    assert runtime.wait_for(handled(runtime, "fxsink.mailer", eb_id), WAIT), "SES accepted the verified sender"
    [mail] = [m for m in runtime.emails() if m["subject"] == subject]
    assert mail["from"] == "Fixture Shop <shop@fixture.example>"
    assert mail["to"] == ["ada@example.org"]
    assert mail["text"].splitlines()[0] == "Hello Ada,"
    assert "<p>Hello Ada,</p>" in mail["html"]
    assert abs(mail["sent_at"] - runtime.journal.entries("fxsink.mailer")[-1].invocation.started) < 60


def test_tick_runs_a_cron_function_with_the_scheduled_event(runtime, ddb):
    invocation = runtime.tick("fxsink.nightly")
    assert invocation.ok, invocation.error_text
    [entry] = [e for e in runtime.journal.entries("fxsink.nightly") if e.invocation.request_id == invocation.request_id]
    assert entry.trigger == "schedule" and entry.note == "cron(30 3 * * ? *)"
    event_id = entry.records[0].id
    effect = item(ddb, runtime.topology.tables["fxsink:effects"], f"schedule#local-fxsink-nightly#{event_id}")
    assert effect["resource"] == {"S": "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/local-fxsink-nightly"}
    with pytest.raises(KeyError, match="has no schedule"):
        runtime.tick("fxsink.record")


def test_rate_schedule_runs_on_the_sped_up_schedule_clock(runtime):
    # rate(1 minute) at schedule speed 60: runs come about every second, a minute apart in schedule time
    def runs(journal) -> int:
        return sum(1 for e in journal.entries("fxsink.heartbeat") if e.trigger == "schedule" and e.invocation.ok)

    assert runtime.wait_for(lambda j: runs(j) >= 3, WAIT)
    ddb = runtime.client("dynamodb")
    times = []
    for entry in [e for e in runtime.journal.entries("fxsink.heartbeat") if e.invocation.ok][:3]:
        key = f"schedule#local-fxsink-heartbeat#{entry.records[0].id}"
        times.append(datetime.strptime(item(ddb, runtime.topology.tables["fxsink:effects"], key)["time"]["S"], ISO))
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(times)] == [60.0, 60.0]
