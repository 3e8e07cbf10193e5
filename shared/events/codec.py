"""Build envelopes for publishing, and read them back from what AWS delivers."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from pydantic import ValidationError

from shared.events import claim_check
from shared.events.base import Envelope, EventData, EventMetadata
from shared.events.errors import EventValidationError
from shared.events.registry import registry

# Mirrors devtools.manifest.region_family (Terraform sets DATA_RESIDENCY from it).
_FAMILIES = {"eu": "eu", "us": "us", "ap": "apac", "ca": "ca", "sa": "sa", "me": "me", "af": "af"}


def data_residency_for(region: str) -> str:
    """Region family personal data must stay in: eu-west-1 -> eu, ap-southeast-2 -> apac."""
    prefix = region.split("-", 1)[0]
    return _FAMILIES.get(prefix, prefix)


def new_envelope(
    data: EventData,
    *,
    source: str,
    correlation_id: str | None = None,
    causation: Envelope | None = None,
    region: str | None = None,
    data_residency: str | None = None,
) -> Envelope:
    """Wrap a payload for publishing.

    correlation_id: explicit, else the causing event's, else this event's own id (a new chain).
    causation_id: the causing event's event_id. region: AWS_REGION. data_residency:
    explicit, else derived from an explicit region, else DATA_RESIDENCY, else from the region.

        >>> env = new_envelope(WebhookReceived(...), source="webhooks", causation=incoming)
    """
    if not isinstance(data, EventData):
        raise TypeError(f"data must be an EventData model, not {type(data).__name__}")
    registry.model(data.detail_type, data.version)  # only registered events go on the bus
    if data_residency is None:
        if region is None:
            data_residency = os.environ.get("DATA_RESIDENCY")
        if data_residency is None:
            region = region or _env_region()
            data_residency = data_residency_for(region)
    region = region or _env_region()
    if correlation_id is None and causation is not None:
        correlation_id = causation.metadata.correlation_id
    event_id = str(uuid.uuid4())
    metadata = EventMetadata(
        event_id=event_id,
        event_version=data.version,
        correlation_id=correlation_id or event_id,  # the first event of a chain correlates with itself
        causation_id=causation.metadata.event_id if causation is not None else None,
        producer=source,
        region=region,
        data_residency=data_residency,
    )
    return Envelope[type(data)](source=source, detail_type=data.detail_type, metadata=metadata, data=data)


def _env_region() -> str:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise ValueError("no region: pass region= or set AWS_REGION")
    return region


def parse_detail(
    detail_type: str, detail: dict[str, Any] | str | bytes, *, source: str | None = None, s3_client: Any = None
) -> Envelope:
    """Read an event `detail` (dict or JSON) of `detail_type`, upcast to the latest version.

    `source` defaults to `metadata.producer`. A claim-check reference is resolved from S3.
    Raises `EventValidationError` (or its subclass `UnknownEventError`) naming field paths.
    """
    if isinstance(detail, str | bytes):
        try:
            detail = json.loads(detail)
        except ValueError as exc:
            raise EventValidationError(f"detail is not JSON: {exc.args[0]}", detail_type=detail_type) from None
    if not isinstance(detail, dict):
        raise EventValidationError("detail must be a JSON object", detail_type=detail_type)
    latest_model = registry.model(detail_type)  # UnknownEventError first: the clearest message
    if claim_check.is_claim_check(detail):
        detail = claim_check.resolve(detail, s3_client=s3_client)
    metadata, data = detail.get("metadata"), detail.get("data")
    if not isinstance(metadata, dict) or not isinstance(data, dict):
        missing = [k for k in ("metadata", "data") if not isinstance(detail.get(k), dict)]
        raise EventValidationError(f"{', '.join(missing)}: must be an object", detail_type=detail_type)
    version = metadata.get("event_version")
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise EventValidationError("metadata.event_version: must be an integer >= 1", detail_type=detail_type)
    received_version = version
    if version != latest_model.version:
        version, data = registry.upcast(detail_type, version, data)
        metadata = {**metadata, "event_version": version}
    try:
        envelope = Envelope[latest_model].consume(
            {
                "source": source or metadata.get("producer"),
                "detail_type": detail_type,
                "metadata": metadata,
                "data": data,
            }
        )
    except ValidationError as exc:
        raise EventValidationError.from_pydantic(exc, detail_type=detail_type, version=received_version) from None
    if received_version != version:
        envelope._received_version = received_version
    return envelope


_EVENTBRIDGE_FIELDS = ("detail-type", "source", "detail")


def parse_eventbridge_event(event: dict[str, Any], *, s3_client: Any = None) -> Envelope:
    """Read an EventBridge event as AWS delivers it (version, id, detail-type, source, account,
    time, region, resources, detail), e.g. a Lambda target's event or an SQS rule target's body."""
    if not isinstance(event, dict):
        raise EventValidationError("not an EventBridge event: expected a JSON object")
    missing = [f for f in _EVENTBRIDGE_FIELDS if f not in event]
    if missing:
        raise EventValidationError(f"not an EventBridge event: missing {', '.join(missing)}")
    return parse_detail(event["detail-type"], event["detail"], source=event["source"], s3_client=s3_client)
