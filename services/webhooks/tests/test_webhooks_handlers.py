"""The handlers on moto, fed events exactly as API Gateway and SQS deliver them."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from webhooks.signatures import sign_github, sign_slack

from devtools.aws_events import LambdaContext, api_gateway_http, sqs_event, sqs_record

GITHUB_SECRET, SLACK_SECRET = "local-github-secret", "local-slack-secret"
PUSH = {
    "ref": "refs/heads/main",
    "commits": [{"id": "1"}, {"id": "2"}, {"id": "3"}],
    "repository": {"full_name": "acme/shop"},
    "sender": {"login": "octocat"},
}


def github_request(payload: dict, delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958", secret=GITHUB_SECRET):
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign_github(secret, body),
    }
    return api_gateway_http("POST", "/webhooks/github", body=body.decode(), headers=headers)


def call(module, event):
    response = module.handler(event, LambdaContext(function_name="test-webhooks-receive", timeout_seconds=10))
    return response["statusCode"], json.loads(response["body"])


def test_a_signed_github_push_is_published_once_even_when_github_retries(aws):
    receive = aws.load_handler("webhooks.receive")
    status, body = call(receive, github_request(PUSH))
    assert status == 202
    published = aws.published()
    assert len(published) == 1
    event = published[0]
    assert (event["source"], event["detail-type"]) == ("webhooks", "WebhookReceived")
    data, meta = event["detail"]["data"], event["detail"]["metadata"]
    assert data["summary"] == "3 commit(s) pushed to refs/heads/main"
    assert (data["repository"], data["sender"]) == ("acme/shop", "octocat")
    assert meta["event_id"] == body["event_id"]
    assert meta["data_residency"] == "eu"

    status, again = call(receive, github_request(PUSH))  # GitHub redelivers: same delivery id
    assert (status, again) == (202, body)
    assert aws.published() == []

    status, other = call(receive, github_request(PUSH, delivery="a-different-delivery"))
    assert status == 202 and other["event_id"] != body["event_id"]
    assert len(aws.published()) == 1


def test_a_bad_signature_is_401_with_the_reason_and_publishes_nothing(aws):
    receive = aws.load_handler("webhooks.receive")
    status, body = call(receive, github_request(PUSH, secret="not-the-secret"))
    assert status == 401
    assert (body["type"], body["detail"]) == (
        "https://eda.example/problems/invalid-signature",
        "signature does not match the body",
    )
    event = github_request(PUSH)
    del event["headers"]["x-hub-signature-256"]
    status, body = call(receive, event)
    assert (status, body["title"], body["detail"]) == (
        401,
        "Signature check failed",
        "missing X-Hub-Signature-256 header",
    )
    assert aws.published() == []


def test_a_signed_but_unreadable_request_is_400_with_the_reason(aws):
    receive = aws.load_handler("webhooks.receive")
    body = b"not json"
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": sign_github(GITHUB_SECRET, body),
    }
    status, answer = call(receive, api_gateway_http("POST", "/webhooks/github", body=body.decode(), headers=headers))
    assert status == 400 and answer["errors"] == [
        {"in": "body", "field": "", "reason": "not valid JSON: Expecting value"}
    ]
    assert aws.published() == []


def _slack(body: bytes, content_type: str, ts: int | None = None, secret=SLACK_SECRET, binary=False):
    ts = ts or int(time.time())
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign_slack(secret, body, ts),
    }
    return api_gateway_http("POST", "/webhooks/slack", body=body if binary else body.decode(), headers=headers)


def test_slack_handshake_slash_command_and_replay_window(aws):
    receive = aws.load_handler("webhooks.receive")
    challenge = json.dumps({"type": "url_verification", "challenge": "abc123"}).encode()
    assert call(receive, _slack(challenge, "application/json")) == (200, {"challenge": "abc123"})

    form = b"team_id=T0001&user_id=U2147483697&command=%2Fdeploy&text=shop+prod&trigger_id=1334.7384.80889"
    status, body = call(receive, _slack(form, "application/x-www-form-urlencoded", binary=True))  # base64 body
    assert status == 202 and body["delivery_id"] == "1334.7384.80889"
    [event] = aws.published()
    assert event["detail"]["data"]["summary"] == "/deploy shop prod"

    stale = _slack(form, "application/x-www-form-urlencoded", ts=int(time.time()) - 600)
    status, body = call(receive, stale)
    assert status == 401 and "5 minutes" in body["detail"]


def test_unknown_routes_are_404(aws):
    receive = aws.load_handler("webhooks.receive")
    status, _ = call(receive, api_gateway_http("POST", "/webhooks/gitlab", body="{}"))
    assert status == 404


# --------------------------------------------------------------------------- record_delivery


def _deliveries() -> list[dict]:
    return boto3.resource("dynamodb", region_name="eu-west-1").Table("test-webhooks-deliveries").scan()["Items"]


def _published_events(aws, n: int) -> list[dict]:
    receive = aws.load_handler("webhooks.receive")
    for i in range(n):
        call(receive, github_request(PUSH, delivery=f"delivery-{i}"))
    return aws.published()


def test_record_delivery_stores_each_delivery_once_under_duplicates_and_reordering(aws):
    events = _published_events(aws, 3)
    record = aws.load_handler("webhooks.record_delivery")
    ctx = LambdaContext(function_name="test-webhooks-record-delivery")
    batch = sqs_event(*(sqs_record(e) for e in events))
    assert record.handler(batch, ctx) == {"batchItemFailures": []}
    assert sorted(i["delivery_id"] for i in _deliveries()) == [f"github:delivery-{i}" for i in range(3)]
    before = sorted(_deliveries(), key=lambda i: i["delivery_id"])

    # At least once: the same events again, reversed, one of them twice in the batch.
    again = sqs_event(*(sqs_record(e, receive_count=2) for e in [*reversed(events), events[0]]))
    assert record.handler(again, ctx) == {"batchItemFailures": []}
    assert sorted(_deliveries(), key=lambda i: i["delivery_id"]) == before


def test_a_schema_invalid_record_fails_alone_and_its_reason_is_logged(aws, caplog):
    good = _published_events(aws, 2)
    bad = json.loads(json.dumps(good[0]))
    bad["detail"]["data"]["provider"] = "gitlab"
    bad_record = sqs_record(bad)
    record = aws.load_handler("webhooks.record_delivery")
    batch = sqs_event(sqs_record(good[0]), bad_record, sqs_record(good[1]))
    response = record.handler(batch, LambdaContext(function_name="test-webhooks-record-delivery"))
    assert response == {"batchItemFailures": [{"itemIdentifier": bad_record["messageId"]}]}
    assert len(_deliveries()) == 2
    rejected = [r for r in caplog.records if getattr(r, "message_id", None) == bad_record["messageId"]]
    assert len(rejected) == 1 and rejected[0].levelname == "ERROR"
    assert rejected[0].reason == "WebhookReceived v1: data.provider: Input should be 'github' or 'slack'"


# --------------------------------------------------------------------------- malformed but signed


def _github(payload, event_type: str = "push", delivery: str = "d-malformed", raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event_type,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign_github(GITHUB_SECRET, body),
    }
    return api_gateway_http("POST", "/webhooks/github", body=body, headers=headers)


def _problem(module, event) -> tuple[int, dict, dict]:
    response = module.handler(event, LambdaContext(function_name="test-webhooks-receive", timeout_seconds=10))
    return response["statusCode"], json.loads(response["body"]), response.get("headers", {})


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (lambda: _github({**PUSH, "repository": "x"}), "repository"),
        (lambda: _github({**PUSH, "sender": "x"}), "sender"),
        (lambda: _github({**PUSH, "repository": {"full_name": 42}}), "repository.full_name"),
        (lambda: _github({**PUSH, "commits": "3"}), "commits"),
        (lambda: _github({**PUSH, "ref": ["main"]}), "ref"),
        (lambda: _github({"action": "opened", "pull_request": "x"}, "pull_request"), "pull_request"),
        (lambda: _github({"action": "opened", "issue": {"number": "7", "title": "t"}}, "issues"), "issue.number"),
        (lambda: _github({"action": 5}, "star"), "action"),
        (lambda: _github(PUSH, delivery="d" * 500), "x-github-delivery"),
        (lambda: _github(PUSH, event_type="e" * 500), "x-github-event"),
        (lambda: _github(None, raw=b"\xff\xfe not utf-8"), ""),
        (lambda: _github(None, raw=b'{"ref": 1' + b"0" * 5000 + b"}"), ""),
        (lambda: _github(None, raw=b"[" * 100_000), ""),
        (lambda: _github(None, raw=b"null"), ""),
        (lambda: _github(None, raw=b""), ""),
        (lambda: _slack_json({"type": "event_callback", "event_id": "Ev1", "event": "x"}), "event"),
        (lambda: _slack_json({"type": "event_callback", "event_id": "Ev1", "event": {"type": 5}}), "event.type"),
        (lambda: _slack_json({"type": "event_callback", "event_id": 7, "event": {"type": "message"}}), "event_id"),
        (lambda: _slack_json({"type": "event_callback", "event_id": "Ev1"}), "event"),
        (lambda: _slack_json({"type": "url_verification", "challenge": {"a": 1}}), "challenge"),
        (lambda: _slack_json({"type": ["event_callback"]}), "type"),
        (lambda: _slack_json(["event_callback"]), ""),
        (
            lambda: _slack(b"command=%2Fdeploy&trigger_id=" + b"1" * 500, "application/x-www-form-urlencoded"),
            "trigger_id",
        ),
    ],
    ids=lambda value: (value or "body") if isinstance(value, str) else "",
)
def test_a_signed_but_malformed_payload_is_400_naming_the_field_and_publishes_nothing(aws, event, field):
    receive = aws.load_handler("webhooks.receive")
    status, body, headers = _problem(receive, event())
    assert status == 400, body
    assert headers["Content-Type"] == "application/problem+json"
    assert body["type"].endswith("/validation") and body["status"] == 400
    assert field in [e["field"] for e in body["errors"]], body
    assert aws.published() == []


def _slack_json(payload) -> dict:
    return _slack(json.dumps(payload).encode(), "application/json")


def test_real_provider_payloads_with_extra_fields_and_object_users_or_channels_are_accepted(aws):
    receive = aws.load_handler("webhooks.receive")
    # GitHub sends far more than we read; a ping from an organization hook has no repository.
    push = {**PUSH, "head_commit": {"id": "3"}, "pusher": {"name": "octocat"}, "installation": {"id": 1}}
    assert _problem(receive, _github(push, delivery="g-1"))[0] == 202
    ping = {"zen": "Keep it logically awesome.", "hook_id": 1, "hook": {}, "organization": {"login": "acme"}}
    assert _problem(receive, _github({**ping, "sender": {"login": "octocat"}}, "ping", delivery="g-2"))[0] == 202
    # Slack: team_join carries the user as an object, channel_created the channel as an object.
    team_join = {"type": "team_join", "user": {"id": "U1", "name": "erika"}, "event_ts": "1.2"}
    created = {"type": "channel_created", "channel": {"id": "C1", "name": "ops", "created": 1}}
    for event_id, event in [("Ev1", team_join), ("Ev2", created)]:
        envelope = {"type": "event_callback", "team_id": "T1", "event_id": event_id, "event": event, "api_app_id": "A"}
        assert _problem(receive, _slack_json(envelope))[0] == 202
    summaries = {e["detail"]["data"]["delivery_id"]: e["detail"]["data"] for e in aws.published()}
    assert summaries["Ev1"]["sender"] == "U1" and summaries["Ev2"]["summary"] == "channel_created in C1"
    assert summaries["g-2"]["repository"] is None and summaries["g-1"]["repository"] == "acme/shop"


def test_slacks_app_rate_limited_notice_is_acknowledged_and_publishes_nothing(aws, caplog):
    # Slack disables subscriptions of apps that answer more than 5% of deliveries with non-200.
    receive = aws.load_handler("webhooks.receive")
    notice = {"token": "x", "type": "app_rate_limited", "team_id": "T1", "minute_rate_limited": 1518467820}
    status, body, _ = _problem(receive, _slack_json({**notice, "api_app_id": "A1"}))
    assert (status, body) == (200, {"ok": True})
    assert aws.published() == []
    assert any(r.levelname == "WARNING" and "rate limited" in r.getMessage() for r in caplog.records)


def test_a_refused_delivery_is_not_remembered_so_a_corrected_redelivery_is_published(aws):
    # Like an Idempotency-Key, a delivery id keeps only what was accepted: never a 400.
    receive = aws.load_handler("webhooks.receive")
    assert _problem(receive, _github({**PUSH, "sender": "x"}, delivery="d-fixed"))[0] == 400
    assert _problem(receive, _github(PUSH, delivery="d-fixed"))[0] == 202
    assert len(aws.published()) == 1
