"""Events of the inventory service (source "inventory")."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shared.events.base import EventData
from shared.events.commerce import OrderId, Shortage, Sku, StockLine
from shared.events.registry import register_event


@register_event
class StockReserved(EventData):
    """Every line of the order is reserved (all or nothing)."""

    detail_type: ClassVar[str] = "StockReserved"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    order_id: OrderId
    lines: list[StockLine] = Field(min_length=1)


@register_event
class StockReservationFailed(EventData):
    detail_type: ClassVar[str] = "StockReservationFailed"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    order_id: OrderId
    shortages: list[Shortage] = Field(min_length=1)


@register_event
class StockReleased(EventData):
    detail_type: ClassVar[str] = "StockReleased"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    order_id: OrderId
    lines: list[StockLine] = Field(min_length=1)
    reason: Literal["payment_failed", "order_cancelled"]


@register_event
class InventoryLevelChanged(EventData):
    """A SKU's available quantity changed (reservation, release, restock)."""

    detail_type: ClassVar[str] = "InventoryLevelChanged"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    sku: Sku
    available: int = Field(ge=0)
    reserved: int = Field(ge=0)
    change: int
    reason: Literal["reserved", "released", "restocked"]
    # Optional (added compatibly): the SKU's stock version after this change, strictly
    # increasing per SKU, so that projections (listings) apply only newer levels; and the
    # threshold in force, so that availability (in/low/out of stock) needs no extra read.
    stock_version: int | None = Field(default=None, ge=1)
    low_stock_threshold: int | None = Field(default=None, ge=0)


@register_event
class LowStockDetected(EventData):
    detail_type: ClassVar[str] = "LowStockDetected"
    version: ClassVar[int] = 1
    contains_personal_data: ClassVar[bool] = False

    sku: Sku
    available: int = Field(ge=0)
    threshold: int = Field(ge=0)
