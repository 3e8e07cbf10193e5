"""Turn a verified provider request into a delivery: plain Python, no AWS.

Only a summary leaves this service (provider payloads can be large and full of personal
data); the delivery id is the provider's own, so a provider retry maps to the same
delivery and is published once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qs

SUMMARY_MAX = 200


class InvalidDelivery(ValueError):
    """The request is signed but not a delivery we understand (HTTP 400 with this reason)."""


@dataclass(frozen=True)
class Delivery:
    provider: str
    delivery_id: str
    event_type: str
    summary: str
    repository: str | None = None
    team: str | None = None
    sender: str | None = None


@dataclass(frozen=True)
class Challenge:
    """Slack's url_verification handshake: answer with the challenge, publish nothing."""

    challenge: str


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def _json_object(body: bytes) -> dict:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidDelivery(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidDelivery("body must be a JSON object")
    return payload


def github_delivery(headers: dict[str, str], body: bytes) -> Delivery:
    """headers: lower-cased names (as API Gateway HTTP APIs deliver them)."""
    event_type = headers.get("x-github-event")
    delivery_id = headers.get("x-github-delivery")
    if not event_type or not delivery_id:
        raise InvalidDelivery("missing X-GitHub-Event or X-GitHub-Delivery header")
    payload = _json_object(body)
    repo = (payload.get("repository") or {}).get("full_name")
    sender = (payload.get("sender") or {}).get("login")
    action = payload.get("action")
    if event_type == "push":
        commits = payload.get("commits") or []
        summary = f"{len(commits)} commit(s) pushed to {payload.get('ref', '?')}"
    elif event_type == "pull_request":
        pr = payload.get("pull_request") or {}
        summary = f"pull request #{pr.get('number', '?')} {action}: {pr.get('title', '')}"
    elif event_type == "issues":
        issue = payload.get("issue") or {}
        summary = f"issue #{issue.get('number', '?')} {action}: {issue.get('title', '')}"
    elif event_type == "ping":
        summary = f"ping: {payload.get('zen', '')}"
    else:
        summary = f"{event_type} {action}" if action else event_type
    return Delivery("github", delivery_id, event_type, _clip(summary), repository=repo, sender=sender)


def slack_delivery(headers: dict[str, str], body: bytes) -> Delivery | Challenge:
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return _slack_slash_command(body)
    payload = _json_object(body)
    kind = payload.get("type")
    if kind == "url_verification":
        if not isinstance(payload.get("challenge"), str):
            raise InvalidDelivery("url_verification without a challenge")
        return Challenge(payload["challenge"])
    if kind != "event_callback":
        raise InvalidDelivery(f"unsupported Slack payload type {kind!r}")
    event = payload.get("event") or {}
    event_id = payload.get("event_id")
    if not event_id or not event.get("type"):
        raise InvalidDelivery("event_callback without event_id or event.type")
    summary = f"{event['type']} in {event.get('channel', '?')}"
    return Delivery(
        "slack", event_id, event["type"], _clip(summary), team=payload.get("team_id"), sender=event.get("user")
    )


def _slack_slash_command(body: bytes) -> Delivery:
    try:
        form = {k: v[0] for k, v in parse_qs(body.decode(), strict_parsing=True).items()}
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidDelivery(f"form body does not parse: {exc}") from None
    if "command" not in form or "trigger_id" not in form:
        raise InvalidDelivery("slash command without command or trigger_id")
    summary = f"{form['command']} {form.get('text', '')}".strip()
    return Delivery(
        "slack",
        form["trigger_id"],
        "slash_command",
        _clip(summary),
        team=form.get("team_id"),
        sender=form.get("user_id"),
    )
