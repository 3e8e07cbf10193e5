"""The carrier's transit time is a setting (CARRIER_TRANSIT_SECONDS): 90 s in the manifest, a few
seconds for a demo or a test (the local runtime's `up --function-env`), refused when it is not a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devtools import commerce_fixtures as commerce
from devtools.local.events import scheduled_event

PROJECT, REQUEST = "shipping.project_orders", "shipping.request_shipment"
HANDOVER, DELIVERIES = "shipping.carrier_handover", "shipping.carrier_deliveries"


def test_a_short_transit_is_delivered_after_it_and_not_before(aws, monkeypatch):
    aws.set_environment(HANDOVER, CARRIER_TRANSIT_SECONDS="2.5")
    aws.load_handler(PROJECT)
    aws.load_handler(REQUEST)
    order = commerce.order_placed("ord_7t7t7t7t7t", [("MUG-BLUE", 1)], country="DE")
    aws.deliver(PROJECT, commerce.envelope(order))
    aws.deliver(REQUEST, commerce.envelope(commerce.payment_succeeded(order)))
    [requested] = aws.published()
    handover = aws.load_handler(HANDOVER)
    assert timedelta(seconds=2.5) == handover.TRANSIT
    picked_up = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    monkeypatch.setattr(handover, "clock", lambda: picked_up)
    assert aws.deliver(HANDOVER, requested)["batchItemFailures"] == []
    aws.published()

    deliveries = aws.load_handler(DELIVERIES)
    tick = scheduled_event("arn:aws:scheduler:eu-west-1:123456789012:schedule/default/x", "123456789012", "eu-west-1")
    monkeypatch.setattr(deliveries, "clock", lambda: picked_up + timedelta(seconds=2))
    assert aws.invoke(DELIVERIES, tick) == {"delivered": 0, "failed": 0}
    monkeypatch.setattr(deliveries, "clock", lambda: picked_up + timedelta(seconds=3))
    assert aws.invoke(DELIVERIES, tick) == {"delivered": 1, "failed": 0}
    [delivered] = aws.published()
    assert delivered["detail"]["data"]["delivered_at"].startswith("2026-11-27T10:00:02.5")  # the due time


@pytest.mark.parametrize(("value", "seconds"), [(None, 90), ("", 90), ("0", 0), ("3", 3), ("1.5", 1.5)])
def test_transit_time_values(aws, value, seconds):
    handover = aws.load_handler(HANDOVER)
    assert handover.transit_time(value) == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["soon", "-1", "inf", "nan", "90s"])
def test_a_bad_transit_time_stops_the_cold_start_naming_the_variable(aws, value):
    handover = aws.load_handler(HANDOVER)
    with pytest.raises(ValueError, match="CARRIER_TRANSIT_SECONDS"):
        handover.transit_time(value)
