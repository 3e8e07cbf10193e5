"""Events on EventBridge: typed payloads, a versioned registry, and envelope helpers.

    from shared.events import new_envelope, parse_eventbridge_event
    from shared.events.webhooks import WebhookReceived

    envelope = new_envelope(WebhookReceived(...), source="webhooks")
    entry = envelope.to_put_events_entry("eda-dev")          # or shared.publisher.EventPublisher
    same = parse_eventbridge_event(event_as_delivered)       # upcast to the latest version

See shared/README.md for the producing/consuming rules. The event modules are imported when
their events are first looked up (`shared.events.catalog`), not with this package.
"""

from shared.events.base import Envelope, EventData, EventMetadata, EventModel, UtcDatetime
from shared.events.codec import data_residency_for, new_envelope, parse_detail, parse_eventbridge_event
from shared.events.errors import ClaimCheckError, EventValidationError, UnknownEventError
from shared.events.registry import (
    EventInfo,
    all_events,
    json_schema,
    latest_version,
    model_for,
    register_event,
    register_upcaster,
    registry,
    unregister_event,
)

__all__ = [
    "ClaimCheckError",
    "Envelope",
    "EventData",
    "EventInfo",
    "EventMetadata",
    "EventModel",
    "EventValidationError",
    "UnknownEventError",
    "UtcDatetime",
    "all_events",
    "data_residency_for",
    "json_schema",
    "latest_version",
    "model_for",
    "new_envelope",
    "parse_detail",
    "parse_eventbridge_event",
    "register_event",
    "register_upcaster",
    "registry",
    "unregister_event",
]
