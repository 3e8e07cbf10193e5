"""Events of the shipping (warehouse) service (source "shipping"). Addresses stay in the
shipping service's table; events carry ids only."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.events.base import EventData, UtcDatetime
from shared.events.commerce import OrderId, StockLine
from shared.events.registry import register_event


@register_event
class ShipmentRequested(EventData):
    detail_type: ClassVar[str] = "ShipmentRequested"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    shipment_id: str = Field(pattern=r"^shp_[0-9a-z]{8,40}$")
    order_id: OrderId
    warehouse: str = Field(min_length=1)
    lines: list[StockLine] = Field(min_length=1)


@register_event
class ShipmentDispatched(EventData):
    detail_type: ClassVar[str] = "ShipmentDispatched"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    shipment_id: str = Field(pattern=r"^shp_[0-9a-z]{8,40}$")
    order_id: OrderId
    carrier: str = Field(min_length=1)
    tracking_number: str = Field(min_length=1)
    dispatched_at: UtcDatetime


@register_event
class ShipmentDelivered(EventData):
    detail_type: ClassVar[str] = "ShipmentDelivered"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    shipment_id: str = Field(pattern=r"^shp_[0-9a-z]{8,40}$")
    order_id: OrderId
    delivered_at: UtcDatetime


@register_event
class ShipmentCancelled(EventData):
    """The order was cancelled while its shipment was requested but not yet picked up by the
    carrier: the warehouse stops it and it is never dispatched. Not published for a cancel that
    arrives after dispatch (too late) or before any shipment was requested (none is)."""

    detail_type: ClassVar[str] = "ShipmentCancelled"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    shipment_id: str = Field(pattern=r"^shp_[0-9a-z]{8,40}$")
    order_id: OrderId
    warehouse: str = Field(min_length=1)
    cancelled_at: UtcDatetime
