"""The shipment state machine and the simulated carrier, without AWS."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from shipping.shipments import (
    CANCELLED,
    DELIVERED,
    DISPATCHED,
    REQUESTED,
    InvalidTransition,
    OrderToShip,
    Tombstone,
    deliver,
    dispatch,
    event_id,
    is_due,
    reached,
    request,
    shipment_id_for,
    stage_event,
    tracking_number,
)
from shipping.store import from_item, to_item

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ORDER = OrderToShip("ord_9z8y7x6w5v", "JP", (("MUG-BLUE", 2), ("TEE-M", 1)))


def requested():
    return request(ORDER, warehouse="wh-eu", now=T0, correlation_id="corr-1", cause_event_id="pay-event-1")


def test_a_shipment_goes_requested_dispatched_delivered_with_the_carriers_facts():
    s = requested()
    assert (s.shipment_id, s.status) == ("shp_9z8y7x6w5v", REQUESTED)
    s = dispatch(s, now=T0 + timedelta(seconds=5), transit=timedelta(minutes=2))
    assert s.status == DISPATCHED and s.carrier == "Yamato Transport"
    assert s.tracking_number.startswith("YT") and len(s.tracking_number) == 12
    assert s.due_at == T0 + timedelta(minutes=2, seconds=5)
    assert not is_due(s, s.due_at - timedelta(microseconds=1)) and is_due(s, s.due_at)
    done = deliver(s)
    assert done.status == DELIVERED and done.delivered_at == s.due_at  # delivered when due, not when noticed


def test_steps_out_of_order_are_refused():
    s = requested()
    with pytest.raises(InvalidTransition):
        deliver(s)
    moving = dispatch(s, now=T0, transit=timedelta(0))
    with pytest.raises(InvalidTransition):
        dispatch(moving, now=T0, transit=timedelta(0))
    with pytest.raises(InvalidTransition):
        deliver(deliver(moving))
    with pytest.raises(InvalidTransition):
        stage_event(s, DISPATCHED)
    with pytest.raises(ValueError):
        shipment_id_for("shp_123456789")


def test_retried_steps_compute_the_same_facts_and_the_same_events():
    a = dispatch(requested(), now=T0, transit=timedelta(seconds=90))
    b = dispatch(requested(), now=T0, transit=timedelta(seconds=90))
    assert a == b
    assert tracking_number("shp_aaaaaaaa", "1Z") != tracking_number("shp_bbbbbbbb", "1Z")
    for stage in (REQUESTED, DISPATCHED):
        assert stage_event(a, stage) == stage_event(b, stage)
    assert event_id(a.shipment_id, REQUESTED) != event_id(a.shipment_id, DISPATCHED)


def test_stage_events_chain_causation_and_carry_the_stage_time():
    s = deliver(dispatch(requested(), now=T0 + timedelta(seconds=1), transit=timedelta(seconds=60)))
    req, dis, dlv = (stage_event(s, stage) for stage in (REQUESTED, DISPATCHED, DELIVERED))
    assert req.causation_id == "pay-event-1" and req.occurred_at == T0
    assert dis.causation_id == req.event_id and dis.occurred_at == T0 + timedelta(seconds=1)
    assert dlv.causation_id == dis.event_id and dlv.data.delivered_at == T0 + timedelta(seconds=61)
    assert {e.correlation_id for e in (req, dis, dlv)} == {"corr-1"}
    assert [(line.sku, line.quantity) for line in req.data.lines] == [("MUG-BLUE", 2), ("TEE-M", 1)]
    assert dis.data.tracking_number == s.tracking_number


def test_due_keys_sort_by_due_time():
    early = dispatch(requested(), now=T0, transit=timedelta(seconds=59))
    late = dispatch(requested(), now=T0, transit=timedelta(seconds=600))
    assert early.due_key < late.due_key
    assert early.due_key.startswith("2026-11-27T10:00:59.000000Z#shp_")


def cancelled():
    return replace(requested(), status=CANCELLED, cancelled_at=T0 + timedelta(minutes=3), cancel_event_id="cancel-1")


def test_a_cancelled_shipment_went_requested_then_cancelled_and_goes_nowhere_else():
    s = cancelled()
    assert [stage for stage in (REQUESTED, DISPATCHED, DELIVERED, CANCELLED) if reached(s, stage)] == [
        REQUESTED,
        CANCELLED,
    ]
    with pytest.raises(InvalidTransition):
        dispatch(s, now=T0, transit=timedelta(0))
    with pytest.raises(InvalidTransition):
        deliver(s)
    with pytest.raises(InvalidTransition):
        stage_event(s, DISPATCHED)
    assert not is_due(s, T0 + timedelta(days=1))
    assert not reached(dispatch(requested(), now=T0, transit=timedelta(0)), CANCELLED)


def test_the_cancel_event_is_caused_by_the_order_cancellation_and_carries_no_address():
    s = cancelled()
    event = stage_event(s, CANCELLED)
    assert event == stage_event(cancelled(), CANCELLED)  # a re-publish is the same event
    assert event.event_id == event_id(s.shipment_id, CANCELLED) != event_id(s.shipment_id, REQUESTED)
    assert event.causation_id == "cancel-1" and event.correlation_id == "corr-1"
    assert event.occurred_at == T0 + timedelta(minutes=3)
    assert event.data.model_dump(mode="json") == {
        "shipment_id": "shp_9z8y7x6w5v",
        "order_id": "ord_9z8y7x6w5v",
        "warehouse": "wh-eu",
        "cancelled_at": "2026-11-27T10:03:00Z",
    }


def test_cancelled_shipments_and_tombstones_survive_the_table_round_trip():
    s = replace(cancelled(), published=frozenset({REQUESTED}))
    assert from_item(to_item(s)) == s
    tombstone = {"order_id": "ord_9z8y7x6w5v", "status": "cancelled", "cancelled_at": "2026-11-27T10:03:00.000000Z"}
    assert from_item({**tombstone, "cancel_event_id": "cancel-1"}) == Tombstone(
        "ord_9z8y7x6w5v", T0 + timedelta(minutes=3), "cancel-1"
    )
