"""Events published by the webhooks service (source "webhooks")."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import EventData, UtcDatetime
from shared.events.registry import register_event


@register_event
class WebhookReceived(EventData):
    """A provider webhook delivery was verified and accepted (published once per delivery id)."""

    detail_type: ClassVar[str] = "WebhookReceived"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = True  # sender logins, repository/team names

    provider: Literal["github", "slack"]
    delivery_id: str = Field(min_length=1, max_length=200, description="X-GitHub-Delivery, or Slack's request id")
    event_type: str = Field(min_length=1, max_length=100, description='e.g. "push", "pull_request", "slash_command"')
    received_at: UtcDatetime
    repository: str | None = Field(default=None, max_length=300, description="GitHub owner/name, or the Slack team")
    sender: str | None = Field(default=None, max_length=200, description="GitHub login or Slack user id")
    summary: str = Field(max_length=500, description="One line for humans, e.g. 'push to main: 3 commits'")
