# ruff: noqa: RUF001 - localized text uses the multiplication sign, full-width parentheses, typographic quotes
"""Email contents: the order confirmation in the customer's language, the low-stock alert.

Plain Python, no AWS. Templates are code (five languages, a handful of strings each), so a
missing translation is a failing test, not a blank email. Amounts go through
`shared.money.format_money` in the order's currency; times are shown in the customer's
IANA time zone with CLDR-style long dates.

    >>> email = confirmation_email(order, card_last4="4242")
    >>> email.subject
    'Ihre Bestellung ord_1a2b3c4d ist bestätigt'
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from notifications.orders import OrderContact
from shared.money import format_money, language

CONFIRMATION = "order_confirmation"
LOW_STOCK = "low_stock"


@dataclass(frozen=True)
class Email:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    language: str


@dataclass(frozen=True)
class Template:
    subject: str
    greeting: str
    intro: str
    order: str
    placed: str
    items: str
    line: str
    total: str
    paid: str
    closing: str
    signature: str


TEMPLATES: dict[str, Template] = {
    "en": Template(
        subject="Your order {order_id} is confirmed",
        greeting="Hello {name},",
        intro="thank you for your order. We have received your payment and are preparing your parcel.",
        order="Order",
        placed="Placed on",
        items="Items",
        line="{quantity} × {sku} at {unit_price}: {line_total}",
        total="Total",
        paid="Paid with the card ending in {last4}.",
        closing="We will write again when your parcel is on its way.",
        signature="Kind regards,\nThe Shop team",
    ),
    "de": Template(
        subject="Ihre Bestellung {order_id} ist bestätigt",
        greeting="Hallo {name},",
        intro="vielen Dank für Ihre Bestellung. Wir haben Ihre Zahlung erhalten und bereiten Ihr Paket vor.",
        order="Bestellung",
        placed="Bestellt am",
        items="Artikel",
        line="{quantity} × {sku} zu je {unit_price}: {line_total}",
        total="Gesamtbetrag",
        paid="Bezahlt mit der Karte mit der Endung {last4}.",
        closing="Wir melden uns wieder, sobald Ihr Paket unterwegs ist.",
        signature="Viele Grüße\nIhr Shop-Team",
    ),
    "fr": Template(
        subject="Votre commande {order_id} est confirmée",
        greeting="Bonjour {name},",
        intro="merci pour votre commande. Nous avons bien reçu votre paiement et préparons votre colis.",
        order="Commande",
        placed="Passée le",
        items="Articles",
        line="{quantity} × {sku} à {unit_price} : {line_total}",
        total="Total",
        paid="Payée avec la carte se terminant par {last4}.",
        closing="Nous vous écrirons dès que votre colis sera en route.",
        signature="Cordialement,\nL’équipe Shop",
    ),
    "es": Template(
        subject="Tu pedido {order_id} está confirmado",
        greeting="Hola, {name}:",
        intro="gracias por tu pedido. Hemos recibido tu pago y estamos preparando tu paquete.",
        order="Pedido",
        placed="Realizado el",
        items="Artículos",
        line="{quantity} × {sku} a {unit_price}: {line_total}",
        total="Total",
        paid="Pagado con la tarjeta terminada en {last4}.",
        closing="Te escribiremos de nuevo cuando tu paquete esté en camino.",
        signature="Saludos,\nEl equipo de Shop",
    ),
    "ja": Template(
        subject="ご注文 {order_id} を承りました",
        greeting="{name} 様",
        intro="このたびはご注文いただき、誠にありがとうございます。お支払いを確認し、商品の発送準備を進めております。",
        order="ご注文番号",
        placed="ご注文日時",
        items="ご注文商品",
        line="{sku} × {quantity}（単価 {unit_price}）: {line_total}",
        total="合計",
        paid="末尾 {last4} のカードでお支払いいただきました。",
        closing="発送いたしましたら、あらためてご連絡いたします。",
        signature="Shop",
    ),
}

# CLDR month names (format context) and long date + short time patterns.
_MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "de": [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    "fr": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    "es": [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
}


def zone(name: str) -> tzinfo:
    """The IANA zone, or UTC when the name is unknown (an email in UTC beats no email)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _zone_label(local: datetime) -> str:
    """'JST', 'CET'; zones without a letter abbreviation ('+04') as 'UTC+4', 'UTC+5:30'."""
    abbreviation = local.tzname() or ""
    if abbreviation.isalpha():
        return abbreviation
    minutes = int((local.utcoffset() or timedelta(0)).total_seconds()) // 60
    if minutes == 0:
        return "UTC"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{'-' if minutes < 0 else '+'}{hours}" + (f":{rest:02d}" if rest else "")


def format_datetime(moment: datetime, locale: str, time_zone: str) -> str:
    """A moment for humans in `locale`, converted to `time_zone`.

    >>> format_datetime(datetime(2026, 11, 27, 14, 30, tzinfo=UTC), "ja-JP", "Asia/Tokyo")
    '2026年11月27日 23:30 (JST)'
    """
    local = moment.astimezone(zone(time_zone))
    lang = language(locale)
    label = _zone_label(local)
    hm = f"{local.hour:02d}:{local.minute:02d}"
    if lang == "ja":
        text = f"{local.year}年{local.month}月{local.day}日 {hm}"
    elif lang == "en":
        hour12 = local.hour % 12 or 12
        ampm = "AM" if local.hour < 12 else "PM"
        text = f"{_MONTHS['en'][local.month - 1]} {local.day}, {local.year}, {hour12}:{local.minute:02d}\u202f{ampm}"
    elif lang == "de":
        text = f"{local.day}. {_MONTHS['de'][local.month - 1]} {local.year}, {hm}"
    elif lang == "fr":
        text = f"{local.day} {_MONTHS['fr'][local.month - 1]} {local.year} à {hm}"
    else:  # es
        text = f"{local.day} de {_MONTHS['es'][local.month - 1]} de {local.year}, {hm}"
    return f"{text} ({label})"


def confirmation_email(order: OrderContact, *, card_last4: str) -> Email:
    """The order confirmation in the customer's language (de-AT -> de; unknown -> en)."""
    lang = language(order.locale)
    t = TEMPLATES[lang]
    money = lambda m: format_money(m, lang)  # noqa: E731 - local shorthand
    placed = format_datetime(order.placed_at, lang, order.time_zone)
    lines = [
        t.line.format(quantity=li.quantity, sku=li.sku, unit_price=money(li.unit_price), line_total=money(li.total))
        for li in order.lines
    ]
    subject = t.subject.format(order_id=order.order_id)
    greeting = t.greeting.format(name=order.name)
    paid = t.paid.format(last4=card_last4)
    text = "\n".join(
        [
            greeting,
            "",
            t.intro,
            "",
            f"{t.order}: {order.order_id}",
            f"{t.placed}: {placed}",
            "",
            f"{t.items}:",
            *(f"  {line}" for line in lines),
            "",
            f"{t.total}: {money(order.total)}",
            paid,
            "",
            t.closing,
            "",
            t.signature,
            "",
        ]
    )
    e = html.escape
    body_html = "".join(
        [
            f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{e(subject)}</title></head><body>',
            f"<p>{e(greeting)}</p><p>{e(t.intro)}</p>",
            f"<p><strong>{e(t.order)}:</strong> {e(order.order_id)}<br><strong>{e(t.placed)}:</strong> {e(placed)}</p>",
            f"<h3>{e(t.items)}</h3><ul>",
            *(f"<li>{e(line)}</li>" for line in lines),
            f"</ul><p><strong>{e(t.total)}: {e(money(order.total))}</strong><br>{e(paid)}</p>",
            f"<p>{e(t.closing)}</p><p>{e(t.signature).replace(chr(10), '<br>')}</p>",
            "</body></html>",
        ]
    )
    return Email(to=(order.email,), subject=subject, text=text, html=body_html, language=lang)


def low_stock_email(
    *, to: str, sku: str, available: int, threshold: int, detected_at: datetime, event_id: str
) -> Email:
    """The operations alert (English: one team, one language)."""
    subject = f"Low stock: {sku} has {available} left (threshold {threshold})"
    when = detected_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = (
        f"{sku} crossed its low-stock threshold.\n\n"
        f"Available: {available}\nThreshold: {threshold}\nDetected at: {when}\nEvent: {event_id}\n\n"
        "Restock or adjust the threshold in inventory.\n"
    )
    e = html.escape
    body_html = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(subject)}</title></head><body>'
        f"<p><strong>{e(sku)}</strong> crossed its low-stock threshold.</p>"
        f"<ul><li>Available: {available}</li><li>Threshold: {threshold}</li>"
        f"<li>Detected at: {e(when)}</li><li>Event: {e(event_id)}</li></ul>"
        "<p>Restock or adjust the threshold in inventory.</p></body></html>"
    )
    return Email(to=(to,), subject=subject, text=text, html=body_html, language="en")
