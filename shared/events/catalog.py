"""Where each event's model lives: the registry imports an event's module the first time the event
is looked up, so a function loads the models it reads or publishes, not the whole catalog.

Add the module's events here when you add a module (shared/tests checks this index against what the
modules register). `load_all()` imports every module: `all_events()` and the generated catalog use it.
"""

from __future__ import annotations

import importlib

EVENTS: dict[str, tuple[str, ...]] = {
    "shared.events.inventory": (
        "InventoryLevelChanged",
        "LowStockDetected",
        "StockReleased",
        "StockReservationFailed",
        "StockReserved",
    ),
    "shared.events.orders": (
        "OrderCancelled",
        "OrderDelivered",
        "OrderPaymentFailed",
        "OrderPlaced",
        "OrderRejected",
        "OrderShipped",
        "PaymentReceived",
    ),
    "shared.events.payments": ("PaymentFailed", "PaymentRefunded", "PaymentSucceeded"),
    "shared.events.shipping": ("ShipmentCancelled", "ShipmentDelivered", "ShipmentDispatched", "ShipmentRequested"),
    "shared.events.thumbnails": ("ThumbnailCreated", "ThumbnailRejected"),
    "shared.events.webhooks": ("WebhookReceived",),
}
MODULE_OF: dict[str, str] = {detail_type: module for module, types in EVENTS.items() for detail_type in types}


def load(detail_type: str) -> bool:
    """Import the module that defines `detail_type`; False if the catalog does not know it."""
    module = MODULE_OF.get(detail_type)
    if module is None:
        return False
    importlib.import_module(module)
    return True


def load_all() -> None:
    for module in EVENTS:
        importlib.import_module(module)
