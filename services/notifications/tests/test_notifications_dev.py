"""dev.sent_emails against a real moto server (what the local runtime runs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import boto3
import pytest
from notifications.emails import confirmation_email
from notifications.mailer import Mailer
from notifications.orders import OrderContact

from devtools import commerce_fixtures as commerce


@pytest.fixture
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _dev():
    spec = importlib.util.spec_from_file_location("notifications_dev", Path(__file__).parents[1] / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sent_emails_lists_what_ses_accepted_on_the_moto_server(moto_server):
    dev = _dev()
    before = len(dev.sent_emails(moto_server))  # moto's model registry is per process
    dev.verify_sender(moto_server, "orders@shop.example")
    ses = boto3.client(
        "ses", endpoint_url=moto_server, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    order = OrderContact.from_order_placed(commerce.order_placed(locale="ja-JP", time_zone="Asia/Tokyo"))
    Mailer("orders@shop.example", client=ses).send(confirmation_email(order, card_last4="4242"))

    mails = dev.sent_emails(moto_server)[before:]
    assert len(mails) == 1
    mail = mails[0]
    assert mail["from"] == "orders@shop.example" and mail["to"] == ["ord_1a2b3c4d5e@customer.example"]
    assert mail["subject"] == "ご注文 ord_1a2b3c4d5e を承りました"
    assert "<ul>" in mail["body"] and "<" not in mail["text"]
    assert "合計: €1,234.50" in mail["text"] and "Anna Huber 様" in mail["text"]
