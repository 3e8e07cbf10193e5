"""moto provisioned from the manifest, and the saga events payments consumes."""

import pytest

from devtools import commerce_fixtures as commerce
from devtools.testing import customer, moto_deployment

CUSTOMER = customer("anna")  # the signed-in customer registering cards and placing the saga's orders


@pytest.fixture
def aws(monkeypatch):
    with moto_deployment(["payments"], monkeypatch) as deployment:
        # keep the tests fast; the attempts stay as deployed (PROVIDER_MAX_ATTEMPTS)
        deployment.set_environment("payments.process", PROVIDER_RETRY_DELAY_MS="0")
        yield deployment


class Saga:
    """The envelopes payments consumes, exactly as orders and inventory publish them."""

    @staticmethod
    def order_placed(
        order_id: str,
        payment_method_id: str,
        total: str = "59.97",
        currency: str = "EUR",
        customer_id: str = CUSTOMER["sub"],
    ):
        order = commerce.order_placed(
            order_id,
            [("SKU-1", 1, total)],
            currency=currency,
            payment_method_id=payment_method_id,
            customer_id=customer_id,
        )
        return commerce.envelope(order)

    @staticmethod
    def stock_reserved(order_id: str, causation=None):
        return commerce.envelope(commerce.stock_reserved(order_id, [("SKU-1", 1)]), causation=causation)

    @staticmethod
    def order_cancelled(order_id: str):
        return commerce.envelope(commerce.order_cancelled(order_id))


@pytest.fixture
def saga() -> Saga:
    return Saga()
