"""The shipment state machine and the simulated carrier, without AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from shipping.shipments import (
    DELIVERED,
    DISPATCHED,
    REQUESTED,
    InvalidTransition,
    OrderToShip,
    deliver,
    dispatch,
    event_id,
    is_due,
    request,
    shipment_id_for,
    stage_event,
    tracking_number,
)

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
