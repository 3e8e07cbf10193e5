"""Signature checks and payload mapping: pure Python, no AWS."""

from __future__ import annotations

import json

import pytest
from webhooks.deliveries import Challenge, InvalidDelivery, github_delivery, slack_delivery
from webhooks.signatures import SignatureError, sign_github, sign_slack, verify_github, verify_slack

SECRET = "It's a Secret to Everybody"
# GitHub's documented test vector (docs: "Validating webhook deliveries").
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_documented_vector():
    verify_github(SECRET, GITHUB_BODY, GITHUB_SIGNATURE)
    assert sign_github(SECRET, GITHUB_BODY) == GITHUB_SIGNATURE


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("sha1=abc", "sha256=<hex>"),
        ("sha256=" + "0" * 64, "does not match"),
    ],
)
def test_github_bad_signatures(header, reason):
    with pytest.raises(SignatureError, match=reason):
        verify_github(SECRET, GITHUB_BODY, header)


def test_github_body_tampering_is_detected():
    with pytest.raises(SignatureError):
        verify_github(SECRET, GITHUB_BODY + b" ", GITHUB_SIGNATURE)


def test_slack_signature_round_trip_and_replay_window():
    body = b"token=x&command=%2Fdeploy&text=prod&trigger_id=13345224609.738474920.8088930838d88f008e0"
    ts = 1_700_000_000
    sig = sign_slack("8f742231b10e8888abcd99yyyzzz85a5", body, ts)
    verify_slack("8f742231b10e8888abcd99yyyzzz85a5", body, str(ts), sig, now=ts + 10)
    with pytest.raises(SignatureError, match="5 minutes"):
        verify_slack("8f742231b10e8888abcd99yyyzzz85a5", body, str(ts), sig, now=ts + 301)
    with pytest.raises(SignatureError, match="does not match"):
        verify_slack("another-secret", body, str(ts), sig, now=ts)
    with pytest.raises(SignatureError, match="not a number"):
        verify_slack("s", body, "yesterday", sig, now=ts)


def test_github_push_becomes_a_summary_without_the_payload():
    payload = {
        "ref": "refs/heads/main",
        "commits": [{"id": "a"}, {"id": "b"}],
        "repository": {"full_name": "acme/shop"},
        "sender": {"login": "octocat"},
    }
    headers = {"x-github-event": "push", "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    d = github_delivery(headers, json.dumps(payload).encode())
    assert (d.provider, d.delivery_id, d.event_type) == ("github", headers["x-github-delivery"], "push")
    assert d.summary == "2 commit(s) pushed to refs/heads/main"
    assert (d.repository, d.sender) == ("acme/shop", "octocat")


def test_github_needs_its_headers_and_a_json_object():
    with pytest.raises(InvalidDelivery) as missing:
        github_delivery({}, b"{}")
    assert [(e["in"], e["field"]) for e in missing.value.errors] == [
        ("header", "x-github-event"),
        ("header", "x-github-delivery"),
    ]
    with pytest.raises(InvalidDelivery, match="not valid JSON"):
        github_delivery({"x-github-event": "push", "x-github-delivery": "d"}, b"<xml/>")
    with pytest.raises(InvalidDelivery, match="must be a JSON object"):
        github_delivery({"x-github-event": "push", "x-github-delivery": "d"}, b"[1]")


def test_github_form_encoded_payloads_are_read_from_the_payload_field():
    headers = {"x-github-event": "ping", "x-github-delivery": "d", "content-type": "application/x-www-form-urlencoded"}
    d = github_delivery(headers, b"payload=%7B%22zen%22%3A%20%22Design%20for%20failure.%22%7D")
    assert d.summary == "ping: Design for failure."
    with pytest.raises(InvalidDelivery, match="payload: Field required"):
        github_delivery(headers, b"zen=x")


def test_slack_url_verification_is_a_challenge():
    body = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    assert slack_delivery({"content-type": "application/json"}, body.encode()) == Challenge(
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    )


def test_slack_event_callback_and_slash_command():
    body = {
        "type": "event_callback",
        "team_id": "T061EG9R6",
        "event_id": "Ev0PV52K21",
        "event": {"type": "app_mention", "user": "U061F7AUR", "channel": "C0LAN2Q65", "text": "<@U0LAN0Z89> hi"},
    }
    d = slack_delivery({"content-type": "application/json"}, json.dumps(body).encode())
    assert (d.delivery_id, d.event_type, d.team, d.sender) == ("Ev0PV52K21", "app_mention", "T061EG9R6", "U061F7AUR")
    form = (
        b"team_id=T0001&user_id=U2147483697&command=%2Fweather&text=94070&trigger_id=13345224609.738474920.8088930838"
    )
    d = slack_delivery({"content-type": "application/x-www-form-urlencoded"}, form)
    assert (d.event_type, d.delivery_id, d.summary) == (
        "slash_command",
        "13345224609.738474920.8088930838",
        "/weather 94070",
    )


def test_slack_unknown_payloads_are_refused_with_a_reason():
    with pytest.raises(InvalidDelivery, match="type: unsupported: expected event_callback, url_verification") as e:
        slack_delivery({"content-type": "application/json"}, b'{"type": "block_actions"}')
    assert "block_actions" not in str(e.value)  # the reason names the rule, not what was sent
    with pytest.raises(InvalidDelivery, match="trigger_id: Field required"):
        slack_delivery({"content-type": "application/x-www-form-urlencoded"}, b"command=%2Fx")
    with pytest.raises(InvalidDelivery, match="not a valid form body") as e:
        slack_delivery({"content-type": "application/x-www-form-urlencoded"}, b"command=%2Fx&&secret")
    assert "secret" not in str(e.value)


@pytest.mark.parametrize("header", ["sha256=😀", "sha256=" + "é" * 64])
def test_a_non_ascii_github_signature_is_refused_not_an_error(header):
    with pytest.raises(SignatureError, match="does not match"):
        verify_github(SECRET, GITHUB_BODY, header)


@pytest.mark.parametrize("signature", ["v0=😀", "é" * 67])
def test_a_non_ascii_slack_signature_is_refused_not_an_error(signature):
    with pytest.raises(SignatureError, match="does not match"):
        verify_slack("s", b"{}", "1700000000", signature, now=1_700_000_000)
