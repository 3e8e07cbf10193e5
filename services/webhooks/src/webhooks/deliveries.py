"""Turn a verified provider request into a delivery: plain Python, no AWS.

Only a summary leaves this service (provider payloads can be large and full of personal
data); the delivery id is the provider's own, so a provider retry maps to the same
delivery and is published once.

Payloads are validated with pydantic models of the fields we read, nothing more: providers
add fields all the time (extra fields are ignored), but a field we read must have the type
the provider documents, or the delivery is refused with the field and the rule (HTTP 400).
The bounds match `WebhookReceived`, so a signed delivery can never fail while being published.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from shared.problems import field_errors, strict_json

SUMMARY_MAX = 200
FORM = "application/x-www-form-urlencoded"


class InvalidDelivery(ValueError):
    """The request is signed but not a delivery we understand (HTTP 400): `errors` are
    `{"in", "field", "reason"}` without the input (shared.problems)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['in']} {e['field'] or '(body)'}: {e['reason']}" for e in errors))


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


@dataclass(frozen=True)
class RateLimited:
    """Slack's app_rate_limited notice: acknowledge (200), publish nothing, warn operators."""

    team: str | None


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)  # built on first use, not at import


def _body_error(reason: str) -> InvalidDelivery:
    return InvalidDelivery([{"in": "body", "field": "", "reason": reason}])


def _validate(model: type[_Payload], data: Any, location: str = "body") -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidDelivery(field_errors(exc.errors(include_input=False), location=location)) from None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = strict_json(body)
    except UnicodeDecodeError:
        raise _body_error("the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _body_error(f"not valid JSON: {exc.msg}") from None
    if not isinstance(payload, dict):
        raise _body_error("must be a JSON object")
    return payload


def _form(body: bytes) -> dict[str, str]:
    try:
        return {k: v[0] for k, v in parse_qs(body.decode(), strict_parsing=True).items()}
    except UnicodeDecodeError:
        raise _body_error("the body is not UTF-8 text") from None
    except ValueError:  # its message quotes the body
        raise _body_error("not a valid form body (application/x-www-form-urlencoded)") from None


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


# --------------------------------------------------------------------------- GitHub

GitHubEventName = Annotated[StrictStr, Field(pattern=r"^[a-z_]{1,100}$")]
DeliveryId = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9._:-]{1,200}$")]


class GitHubHeaders(_Payload):
    event: GitHubEventName = Field(alias="x-github-event")
    delivery: DeliveryId = Field(alias="x-github-delivery")


class GitHubAccount(_Payload):
    login: StrictStr = Field(min_length=1, max_length=200)


class GitHubRepository(_Payload):
    full_name: StrictStr = Field(min_length=1, max_length=300)


class GitHubNumbered(_Payload):
    """A pull request or an issue."""

    number: StrictInt = Field(ge=0)
    title: StrictStr = ""


class GitHubPayload(_Payload):
    """What every event may carry: repository (absent for organization-level events), sender."""

    action: StrictStr | None = Field(default=None, max_length=100)
    repository: GitHubRepository | None = None
    sender: GitHubAccount | None = None


class GitHubPush(GitHubPayload):
    ref: StrictStr = Field(min_length=1, max_length=300)
    commits: list[dict[str, Any]] = Field(default_factory=list)  # GitHub lists at most 2048


class GitHubPullRequest(GitHubPayload):
    action: StrictStr = Field(min_length=1, max_length=100)
    pull_request: GitHubNumbered


class GitHubIssues(GitHubPayload):
    action: StrictStr = Field(min_length=1, max_length=100)
    issue: GitHubNumbered


class GitHubPing(GitHubPayload):
    zen: StrictStr = ""


GITHUB_EVENTS: dict[str, type[GitHubPayload]] = {
    "push": GitHubPush,
    "pull_request": GitHubPullRequest,
    "issues": GitHubIssues,
    "ping": GitHubPing,
}


def _github_summary(event_type: str, payload: GitHubPayload) -> str:
    if isinstance(payload, GitHubPush):
        return f"{len(payload.commits)} commit(s) pushed to {payload.ref}"
    if isinstance(payload, GitHubPullRequest):
        return f"pull request #{payload.pull_request.number} {payload.action}: {payload.pull_request.title}"
    if isinstance(payload, GitHubIssues):
        return f"issue #{payload.issue.number} {payload.action}: {payload.issue.title}"
    if isinstance(payload, GitHubPing):
        return f"ping: {payload.zen}"
    return f"{event_type} {payload.action}" if payload.action else event_type


def github_delivery(headers: dict[str, str], body: bytes) -> Delivery:
    """headers: lower-cased names (as API Gateway HTTP APIs deliver them). GitHub sends the
    payload as the JSON body, or as the `payload` field of a form if the hook is set up so."""
    meta = _validate(GitHubHeaders, headers, location="header")
    if headers.get("content-type", "").startswith(FORM):
        form = _form(body)
        if "payload" not in form:
            raise InvalidDelivery([{"in": "body", "field": "payload", "reason": "Field required"}])
        body = form["payload"].encode()
    model = GITHUB_EVENTS.get(meta.event, GitHubPayload)
    payload = _validate(model, _json_object(body))
    return Delivery(
        "github",
        meta.delivery,
        meta.event,
        _clip(_github_summary(meta.event, payload)),
        repository=payload.repository.full_name if payload.repository else None,
        sender=payload.sender.login if payload.sender else None,
    )


# --------------------------------------------------------------------------- Slack


def _id_of(value: Any) -> Any:
    """Slack names a user or channel by id, or (team_join, channel_created...) by an object with an id."""
    if isinstance(value, dict) and "id" in value:
        return value["id"]
    return value


SlackId = Annotated[StrictStr, BeforeValidator(_id_of), Field(min_length=1, max_length=200)]
SlackRequestId = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9._-]{1,200}$")]


class SlackKind(_Payload):
    type: StrictStr = Field(min_length=1, max_length=100)


class SlackUrlVerification(_Payload):
    type: Literal["url_verification"]
    challenge: StrictStr = Field(min_length=1, max_length=200)


class SlackRateLimited(_Payload):
    type: Literal["app_rate_limited"]
    team_id: StrictStr | None = Field(default=None, max_length=200)


class SlackEvent(_Payload):
    type: StrictStr = Field(min_length=1, max_length=100)
    user: SlackId | None = None
    channel: SlackId | None = None


class SlackEventCallback(_Payload):
    type: Literal["event_callback"]
    event_id: SlackRequestId
    team_id: StrictStr | None = Field(default=None, max_length=200)
    event: SlackEvent


class SlackSlashCommand(_Payload):
    command: StrictStr = Field(pattern=r"^/\S{1,99}$")
    trigger_id: SlackRequestId
    text: StrictStr = ""
    team_id: StrictStr | None = Field(default=None, max_length=200)
    user_id: StrictStr | None = Field(default=None, max_length=200)


def slack_delivery(headers: dict[str, str], body: bytes) -> Delivery | Challenge | RateLimited:
    if headers.get("content-type", "").startswith(FORM):
        return _slack_slash_command(body)
    payload = _json_object(body)
    kind = _validate(SlackKind, payload).type
    if kind == "url_verification":
        return Challenge(_validate(SlackUrlVerification, payload).challenge)
    if kind == "app_rate_limited":
        return RateLimited(_validate(SlackRateLimited, payload).team_id)
    if kind != "event_callback":
        raise InvalidDelivery(
            [
                {
                    "in": "body",
                    "field": "type",
                    "reason": "unsupported: expected event_callback, url_verification or app_rate_limited",
                }
            ]
        )
    callback: SlackEventCallback = _validate(SlackEventCallback, payload)
    event = callback.event
    summary = f"{event.type} in {event.channel or '?'}"
    return Delivery("slack", callback.event_id, event.type, _clip(summary), team=callback.team_id, sender=event.user)


def _slack_slash_command(body: bytes) -> Delivery:
    command: SlackSlashCommand = _validate(SlackSlashCommand, _form(body))
    summary = f"{command.command} {command.text}".strip()
    return Delivery(
        "slack",
        command.trigger_id,
        "slash_command",
        _clip(summary),
        team=command.team_id,
        sender=command.user_id,
    )
