"""Event envelope, registry and codec: what producers and consumers rely on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import ClassVar

import jsonschema
import pytest
from pydantic import ValidationError

from shared.events import (
    Envelope,
    EventData,
    EventValidationError,
    UnknownEventError,
    all_events,
    json_schema,
    new_envelope,
    parse_detail,
    parse_eventbridge_event,
    register_event,
    register_upcaster,
    unregister_event,
)
from shared.events.webhooks import WebhookReceived

pytestmark = pytest.mark.usefixtures("aws_env")


def test_round_trip_through_a_put_events_entry(webhook_data, make_eventbridge_event):
    data = webhook_data()
    envelope = new_envelope(data, source="webhooks")

    entry = envelope.to_put_events_entry("eda-dev")
    assert entry["Source"] == "webhooks" and entry["DetailType"] == "WebhookReceived"
    assert entry["EventBusName"] == "eda-dev" and entry["Time"] == envelope.metadata.occurred_at
    detail = json.loads(entry["Detail"])
    assert set(detail) == {"metadata", "data"}
    assert detail["metadata"]["occurred_at"].endswith("Z")
    assert detail["data"]["received_at"] == "2026-11-27T08:30:00Z"

    back = parse_eventbridge_event(make_eventbridge_event(entry["Source"], entry["DetailType"], entry["Detail"]))
    assert isinstance(back.data, WebhookReceived)
    assert back == envelope
    assert back.received_version == 1


def test_metadata_defaults_from_the_environment(webhook_data, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    envelope = new_envelope(webhook_data(), source="webhooks")
    m = envelope.metadata
    assert (m.region, m.data_residency, m.producer, m.event_version) == ("ap-southeast-2", "apac", "webhooks", 1)
    assert m.correlation_id == m.event_id and m.causation_id is None
    assert m.occurred_at.tzinfo is not None and m.occurred_at.utcoffset() == timedelta(0)

    monkeypatch.setenv("DATA_RESIDENCY", "eu")
    assert new_envelope(webhook_data(), source="webhooks").metadata.data_residency == "eu"
    # An explicit region wins over the function's DATA_RESIDENCY.
    assert new_envelope(webhook_data(), source="webhooks", region="us-east-1").metadata.data_residency == "us"


def test_correlation_and_causation_follow_the_causing_event(webhook_data):
    first = new_envelope(webhook_data(), source="webhooks", correlation_id="req-42")
    second = new_envelope(webhook_data(), source="webhooks", causation=first)
    assert second.metadata.correlation_id == "req-42"
    assert second.metadata.causation_id == first.metadata.event_id
    assert second.metadata.event_id != first.metadata.event_id


def test_data_residency_matches_the_manifest_naming():
    from devtools.manifest import region_family
    from shared.events import data_residency_for

    for region in ("eu-west-1", "eu-central-2", "us-east-1", "ap-southeast-2", "ca-central-1", "me-south-1", "il-1"):
        assert data_residency_for(region) == region_family(region)


# ------------------------------------------------------------------ strict producing, tolerant consuming


def test_producing_forbids_unknown_fields_and_coercion(webhook_data):
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        webhook_data(sumary="typo")
    with pytest.raises(ValidationError, match="received_at"):
        webhook_data(received_at="2026-11-27T08:30:00Z")  # a str is not a datetime when producing
    with pytest.raises(ValidationError, match="received_at"):
        webhook_data(received_at=datetime(2026, 11, 27, 8, 30))  # naive
    with pytest.raises(ValidationError, match="provider"):
        webhook_data(provider="gitlab")


def test_models_are_frozen(webhook_data):
    data = webhook_data()
    with pytest.raises(ValidationError):
        data.summary = "changed"


def test_consuming_ignores_unknown_fields_and_converts_json_types(webhook_data):
    detail = new_envelope(webhook_data(), source="webhooks").detail()
    detail["metadata"]["added_by_a_newer_producer"] = True
    detail["data"]["labels"] = ["new", "field"]
    detail["data"]["received_at"] = "2026-11-27T10:30:00+02:00"
    detail["metadata"]["event_version"] = "1"

    envelope = parse_detail("WebhookReceived", json.dumps(detail))
    assert envelope.data.received_at == datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
    assert "labels" not in envelope.data.model_dump()
    assert envelope.source == "webhooks"  # from metadata.producer when no source is given


def test_aware_datetimes_are_stored_in_utc(webhook_data):
    cet = timezone(timedelta(hours=1))
    data = webhook_data(received_at=datetime(2026, 11, 27, 9, 30, tzinfo=cet))
    assert data.received_at == datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
    assert data.received_at.utcoffset() == timedelta(0)
    assert data.model_dump(mode="json")["received_at"] == "2026-11-27T08:30:00Z"


# ------------------------------------------------------------------ errors


def test_bad_data_names_the_field_paths(webhook_data):
    detail = new_envelope(webhook_data(), source="webhooks").detail()
    detail["data"]["provider"] = "gitlab"
    del detail["data"]["delivery_id"]
    detail["metadata"]["occurred_at"] = "yesterday"

    with pytest.raises(EventValidationError) as info:
        parse_detail("WebhookReceived", detail)
    err = info.value
    assert isinstance(err, ValueError)
    paths = {e["path"] for e in err.errors}
    assert paths == {"data.provider", "data.delivery_id", "metadata.occurred_at"}
    assert str(err).startswith("WebhookReceived v1: ")
    assert "data.provider: Input should be 'github' or 'slack'" in str(err)
    assert "gitlab" not in str(err)  # values are not echoed: they may be personal data


def test_unknown_detail_type_is_a_clear_error():
    with pytest.raises(UnknownEventError, match=r"NoSuchThing: unknown detail-type \(known: .*WebhookReceived"):
        parse_detail("NoSuchThing", {"metadata": {}, "data": {}})


def test_not_an_eventbridge_event():
    with pytest.raises(EventValidationError, match="missing detail-type"):
        parse_eventbridge_event({"source": "webhooks", "detail": {}})
    with pytest.raises(EventValidationError, match="not JSON"):
        parse_detail("WebhookReceived", "{not json")
    with pytest.raises(EventValidationError, match=r"metadata\.event_version"):
        parse_detail("WebhookReceived", {"metadata": {"event_version": 0}, "data": {}})


def test_envelope_rejects_a_mismatched_detail_type(webhook_data):
    envelope = new_envelope(webhook_data(), source="webhooks")
    with pytest.raises(ValidationError, match="does not match"):
        Envelope[WebhookReceived](
            source="webhooks", detail_type="Other", metadata=envelope.metadata, data=envelope.data
        )


# ------------------------------------------------------------------ versions and upcasting


@pytest.fixture
def versioned_thing():
    """ThingHappened v1 -> v2 (name split) -> v3 (amount in cents), registered for one test."""

    @register_event
    class ThingHappenedV1(EventData):
        detail_type: ClassVar[str] = "ThingHappened"
        version: ClassVar[int] = 1
        name: str
        amount: float

    @register_event
    class ThingHappened(EventData):
        detail_type: ClassVar[str] = "ThingHappened"
        version: ClassVar[int] = 3
        first_name: str
        last_name: str
        amount_cents: int

    @register_upcaster("ThingHappened", 1)
    def split_name(data: dict) -> dict:
        first, _, last = data.pop("name").partition(" ")
        return {**data, "first_name": first, "last_name": last}

    @register_upcaster("ThingHappened", 2)
    def to_cents(data: dict) -> dict:
        return {**data, "amount_cents": round(data.pop("amount") * 100)}

    yield ThingHappenedV1, ThingHappened
    unregister_event("ThingHappened")


def test_v1_detail_is_upcast_step_by_step_to_the_latest_model(versioned_thing):
    v1_model, latest = versioned_thing
    old = new_envelope(v1_model(name="Ada Lovelace", amount=12.5), source="things")
    assert old.metadata.event_version == 1

    envelope = parse_detail("ThingHappened", old.detail_json(), source="things")
    assert type(envelope.data) is latest
    assert envelope.data == latest(first_name="Ada", last_name="Lovelace", amount_cents=1250)
    assert envelope.metadata.event_version == 3
    assert envelope.received_version == 1
    assert envelope.metadata.event_id == old.metadata.event_id


def test_latest_version_is_read_without_upcasters(versioned_thing):
    _, latest = versioned_thing
    detail = new_envelope(latest(first_name="A", last_name="B", amount_cents=1), source="things").detail()
    assert parse_detail("ThingHappened", detail).data.amount_cents == 1


def test_a_version_newer_than_known_is_rejected(versioned_thing):
    _, latest = versioned_thing
    detail = new_envelope(latest(first_name="A", last_name="B", amount_cents=1), source="things").detail()
    detail["metadata"]["event_version"] = 4
    with pytest.raises(UnknownEventError, match="newer than the newest known version 3"):
        parse_detail("ThingHappened", detail)


def test_a_failing_upcaster_is_an_event_validation_error(versioned_thing):
    v1_model, _ = versioned_thing
    detail = new_envelope(v1_model(name="Ada", amount=1.0), source="things").detail()
    del detail["data"]["name"]
    with pytest.raises(EventValidationError, match=r"upcasting v1->v2 failed: KeyError"):
        parse_detail("ThingHappened", detail)


@pytest.mark.usefixtures("versioned_thing")
def test_missing_upcaster_and_cleanup():
    @register_event
    class Lonely(EventData):
        detail_type: ClassVar[str] = "Lonely"
        version: ClassVar[int] = 2
        x: int

    try:
        detail = {**new_envelope(Lonely(x=1), source="t").detail()}
        detail["metadata"]["event_version"] = 1
        with pytest.raises(UnknownEventError, match="no upcaster from v1 to v2"):
            parse_detail("Lonely", detail)
    finally:
        unregister_event("Lonely")
    assert "Lonely" not in {detail_type for detail_type, _ in all_events()}


def test_registering_two_classes_for_one_version_fails(versioned_thing):
    with pytest.raises(ValueError, match="already registered"):

        @register_event
        class ThingHappened(EventData):
            detail_type: ClassVar[str] = "ThingHappened"
            version: ClassVar[int] = 3


def test_only_registered_events_can_be_enveloped():
    class Unregistered(EventData):
        detail_type: ClassVar[str] = "Unregistered"

    with pytest.raises(UnknownEventError):
        new_envelope(Unregistered(), source="x")


# ------------------------------------------------------------------ catalog and JSON Schema


def test_all_events_lists_the_catalog(versioned_thing):
    from shared.events import latest_version, registry

    listed = all_events()
    assert ("WebhookReceived", 1) in listed and ("ThingHappened", 1) in listed and ("ThingHappened", 3) in listed
    assert listed == sorted(listed)
    assert registry.get("WebhookReceived", 1) is WebhookReceived
    assert registry.get("WebhookReceived", 1).contains_personal_data is True
    assert latest_version("ThingHappened") == 3
    by_pair = {(info.detail_type, info.version): info for info in listed}
    assert by_pair[("WebhookReceived", 1)].model is WebhookReceived
    assert by_pair[("WebhookReceived", 1)].contains_personal_data is True
    assert by_pair[("ThingHappened", 3)].latest and not by_pair[("ThingHappened", 1)].latest


def test_the_catalog_index_names_each_module_s_events():
    from shared.events import catalog, registry

    catalog.load_all()
    registered = {}
    for info in registry.all_events():
        registered.setdefault(info.model.__module__, set()).add(info.detail_type)
    assert {m: set(types) for m, types in catalog.EVENTS.items()} == {
        m: types for m, types in registered.items() if m in catalog.EVENTS
    }
    assert set(registered) - set(catalog.EVENTS) <= {__name__}  # this module's test events only


def test_an_event_module_is_imported_by_the_first_lookup_of_one_of_its_events():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import json, sys; import shared.events as e\n"
        "def loaded(): return sorted(m for m in sys.modules if m.startswith('shared.events.'))\n"
        "before = loaded(); e.model_for('PaymentSucceeded'); print(json.dumps([before, loaded()]))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout
    before, after = json.loads(out.splitlines()[-1])
    assert not {"shared.events.orders", "shared.events.payments", "shared.events.inventory"} & set(before)
    assert set(after) - set(before) == {"shared.events.payments", "shared.events.commerce"}


def test_json_schema_validates_a_real_detail_and_rejects_bad_ones(webhook_data):
    schema = json_schema("WebhookReceived", 1)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())

    detail = json.loads(new_envelope(webhook_data(), source="webhooks").to_put_events_entry("bus")["Detail"])
    validator.validate(detail)
    assert schema["x-detail-type"] == "WebhookReceived" and schema["x-version"] == 1

    bad = json.loads(json.dumps(detail))
    bad["data"]["provider"] = "gitlab"
    bad["metadata"]["event_version"] = 2
    del bad["metadata"]["event_id"]
    messages = sorted(e.json_path for e in validator.iter_errors(bad))
    assert messages == ["$.data.provider", "$.metadata", "$.metadata.event_version"]

    extra = json.loads(json.dumps(detail))
    extra["data"]["surprise"] = 1
    assert not validator.is_valid(extra)  # the producing contract is closed
