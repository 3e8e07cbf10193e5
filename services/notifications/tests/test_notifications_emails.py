# ruff: noqa: RUF001 - localized text uses the multiplication sign, full-width parentheses, typographic quotes
"""Email contents without AWS: languages, money, time zones, fallbacks, escaping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from notifications.emails import TEMPLATES, confirmation_email, format_datetime, low_stock_email
from notifications.orders import OrderContact

from devtools import commerce_fixtures as commerce

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.fixture
def contact():
    return lambda **kwargs: OrderContact.from_order_placed(commerce.order_placed(**kwargs))


@pytest.mark.parametrize(
    ("locale", "subject", "total"),
    [
        ("en-GB", "Your order ord_1a2b3c4d5e is confirmed", "€1,234.50"),
        ("de-DE", "Ihre Bestellung ord_1a2b3c4d5e ist bestätigt", f"1.234,50{NBSP}€"),
        ("fr-FR", "Votre commande ord_1a2b3c4d5e est confirmée", f"1{NNBSP}234,50{NBSP}€"),
        ("es-ES", "Tu pedido ord_1a2b3c4d5e está confirmado", f"1234,50{NBSP}€"),
        ("ja-JP", "ご注文 ord_1a2b3c4d5e を承りました", "€1,234.50"),
    ],
)
def test_every_language_renders_subject_total_and_both_parts(contact, locale, subject, total):
    email = confirmation_email(contact(locale=locale), card_last4="4242")
    assert email.subject == subject
    assert email.language == locale[:2]
    assert email.to == ("ord_1a2b3c4d5e@customer.example",)
    t = TEMPLATES[email.language]
    assert f"{t.total}: {total}" in email.text
    assert total in email.html and f'lang="{email.language}"' in email.html
    assert "4242" in email.text and "ord_1a2b3c4d5e" in email.text
    assert t.greeting.format(name="Anna Huber") in email.text


def test_every_template_has_every_placeholder_it_needs():
    for lang, t in TEMPLATES.items():
        assert "{order_id}" in t.subject, lang
        assert "{name}" in t.greeting and "{last4}" in t.paid, lang
        for field in ("{quantity}", "{sku}", "{unit_price}", "{line_total}"):
            assert field in t.line, (lang, field)


def test_yen_has_no_decimals_and_lines_show_unit_and_line_totals(contact):
    email = confirmation_email(
        contact(locale="ja-JP", time_zone="Asia/Tokyo", currency="JPY", unit_price="1235", quantity=3),
        card_last4="0005",
    )
    assert "MUG-BLUE × 3（単価 ￥1,235）: ￥3,705" in email.text
    assert "合計: ￥3,705" in email.text
    english = confirmation_email(contact(locale="en-US", currency="JPY", unit_price="1235"), card_last4="1")
    assert "Total: ¥2,470" in english.text and "¥2,470." not in english.text


def test_locale_falls_back_to_the_language_then_to_english(contact):
    assert confirmation_email(contact(locale="de-AT"), card_last4="1").subject.startswith("Ihre Bestellung")
    assert confirmation_email(contact(locale="pt-BR"), card_last4="1").subject.startswith("Your order")
    assert confirmation_email(contact(locale="pt-BR"), card_last4="1").language == "en"


def test_times_are_shown_in_the_customers_time_zone(contact):
    placed = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
    assert format_datetime(placed, "ja-JP", "Asia/Tokyo") == "2026年11月27日 23:30 (JST)"
    late = datetime(2026, 11, 27, 20, 5, tzinfo=UTC)  # the next day in Tokyo
    assert format_datetime(late, "ja", "Asia/Tokyo") == "2026年11月28日 05:05 (JST)"
    assert format_datetime(late, "en-US", "America/New_York") == f"November 27, 2026, 3:05{NNBSP}PM (EST)"
    assert format_datetime(late, "de-AT", "Europe/Vienna") == "27. November 2026, 21:05 (CET)"
    assert format_datetime(late, "fr", "Europe/Paris") == "27 novembre 2026 à 21:05 (CET)"
    assert format_datetime(late, "es", "Asia/Kolkata") == "28 de noviembre de 2026, 01:35 (IST)"
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert format_datetime(summer, "de", "Europe/Berlin") == "1. Juli 2026, 12:00 (CEST)"
    assert format_datetime(summer, "en", "Asia/Dubai") == f"July 1, 2026, 2:00{NNBSP}PM (UTC+4)"
    assert format_datetime(summer, "en", "Not/AZone") == f"July 1, 2026, 10:00{NNBSP}AM (UTC)"

    email = confirmation_email(contact(locale="ja-JP", time_zone="Asia/Tokyo", placed_at=late), card_last4="1")
    assert "ご注文日時: 2026年11月28日 05:05 (JST)" in email.text


def test_the_html_part_escapes_what_the_customer_typed(contact):
    email = confirmation_email(contact(name="<b>Ann</b> & Bob"), card_last4="1")
    assert "&lt;b&gt;Ann&lt;/b&gt; &amp; Bob" in email.html and "<b>Ann</b>" not in email.html
    assert "Hallo <b>Ann</b> & Bob," in email.text


def test_projection_item_round_trips_exactly(contact):
    original = contact(currency="EUR", unit_price="10.10", quantity=3)
    item = original.to_item()
    assert item["total"] == "30.30" and item["lines"][0]["unit_price"] == "10.10"
    assert OrderContact.from_item(item) == original


def test_low_stock_alert():
    email = low_stock_email(
        to="ops@example.com",
        sku="MUG-BLUE",
        available=3,
        threshold=5,
        detected_at=datetime(2026, 11, 27, 14, 30, tzinfo=UTC),
        event_id="e-1",
    )
    assert email.to == ("ops@example.com",)
    assert email.subject == "Low stock: MUG-BLUE has 3 left (threshold 5)"
    assert "Detected at: 2026-11-27 14:30:00 UTC" in email.text and "e-1" in email.html
