"""Card input validation and the stored payment method: plain Python, no AWS.

    >>> method = register_card({"card_number": "4242 4242 4242 4242", "expiry_month": 12,
    ...                         "expiry_year": 2030, "cvc": "123"}, today=date(2026, 11, 27))
    >>> (method.brand, method.first6, method.last4)
    ('visa', '424242', '4242')

PCI DSS: the full card number (PAN) and the CVC exist only inside `register_card`'s
arguments; what comes out (`PaymentMethod`) keeps the brand, the first 6 and last 4 digits
and the expiry. Reasons in `InvalidCard.errors` never quote the input.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.masking import luhn_valid

MAX_YEARS_AHEAD = 20  # issuers print at most ~10 years; 20 rejects typos like 2205
_SEPARATORS = re.compile(r"[ -]")
_SAFE_NAME = re.compile(r"^[A-Za-z_]{1,40}$")
_PM_ID = re.compile(r"^pm_[0-9a-z]{8,40}$")


class InvalidCard(ValueError):
    """The card input is invalid; `errors` maps each field to a reason (safe to return and log)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid card: " + ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())))
        self.errors = errors


# (brand, IIN ranges as (low, high) over the first digits, allowed lengths). Sources: the card
# networks' published IIN ranges (ISO/IEC 7812), as summarised by Stripe and Wikipedia.
_BRANDS: tuple[tuple[str, tuple[tuple[str, str], ...], tuple[int, ...]], ...] = (
    ("amex", (("34", "34"), ("37", "37")), (15,)),
    ("diners", (("300", "305"), ("36", "36"), ("38", "39")), (14, 16, 19)),
    ("discover", (("6011", "6011"), ("644", "649"), ("65", "65")), (16, 19)),
    ("jcb", (("3528", "3589"),), (16, 19)),
    ("unionpay", (("62", "62"),), (16, 17, 18, 19)),
    ("mastercard", (("51", "55"), ("2221", "2720")), (16,)),
    ("visa", (("4", "4"),), (13, 16, 19)),
)


def brand_of(digits: str) -> str | None:
    """The card network from the leading digits (BIN/IIN), or None if we do not accept it."""
    for brand, ranges, _ in _BRANDS:
        for low, high in ranges:
            prefix = digits[: len(low)]
            if len(prefix) == len(low) and low <= prefix <= high:
                return brand
    return None


def _lengths(brand: str) -> tuple[int, ...]:
    return next(lengths for name, _, lengths in _BRANDS if name == brand)


@dataclass(frozen=True)
class PaymentMethod:
    """What we keep of a card: never the full number, never the CVC."""

    payment_method_id: str
    brand: str
    first6: str
    last4: str
    expiry_month: int
    expiry_year: int

    def expired(self, today: date) -> bool:
        """Cards are valid through the last day of their expiry month."""
        return (self.expiry_year, self.expiry_month) < (today.year, today.month)

    @property
    def masked(self) -> str:
        return f"{self.first6}******{self.last4}"


def new_payment_method_id() -> str:
    return "pm_" + uuid.uuid4().hex[:24]


def is_payment_method_id(value: str) -> bool:
    return bool(_PM_ID.match(value))


def _int_field(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def register_card(body: Any, *, today: date, payment_method_id: str | None = None) -> PaymentMethod:
    """Validate `{card_number, expiry_month, expiry_year, cvc, holder_name?}` and keep what may be kept.

    Raises `InvalidCard` with one reason per invalid field (never echoing the value).
    """
    if not isinstance(body, dict):
        raise InvalidCard({"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    unknown = set(body) - {"card_number", "expiry_month", "expiry_year", "cvc", "holder_name"}
    if unknown:
        # Name only the unknown fields that cannot carry card data (a client may send anything).
        named = sorted(n for n in unknown if isinstance(n, str) and _SAFE_NAME.match(n))
        more = len(unknown) - len(named)
        errors["body"] = "unknown fields: " + ", ".join(named) + (f" and {more} more" if more and named else "")
        if not named:
            errors["body"] = f"{more} unknown field(s)"

    digits, brand = "", None
    number = body.get("card_number")
    if number is None:
        errors["card_number"] = "required"
    elif not isinstance(number, str):
        errors["card_number"] = "must be a string of digits"
    else:
        digits = _SEPARATORS.sub("", number.strip())
        if not digits.isdigit() or not digits.isascii():
            errors["card_number"] = "must contain only digits (spaces or dashes between them allowed)"
        elif not 13 <= len(digits) <= 19:
            errors["card_number"] = "must have 13 to 19 digits"
        elif not luhn_valid(digits):
            errors["card_number"] = "fails the Luhn check (mistyped?)"
        elif (brand := brand_of(digits)) is None:
            errors["card_number"] = "card network not accepted (" + ", ".join(b for b, _, _ in _BRANDS) + ")"
        elif len(digits) not in _lengths(brand):
            errors["card_number"] = f"a {brand} card number has {' or '.join(map(str, _lengths(brand)))} digits"

    month, year = _int_field(body.get("expiry_month")), _int_field(body.get("expiry_year"))
    if "expiry_month" not in body:
        errors["expiry_month"] = "required"
    elif month is None or not 1 <= month <= 12:
        errors["expiry_month"] = "must be a month number 1..12"
    if "expiry_year" not in body:
        errors["expiry_year"] = "required"
    elif year is None or not 2000 <= year <= 2099:
        errors["expiry_year"] = "must be a four-digit year"
    elif year > today.year + MAX_YEARS_AHEAD:
        errors["expiry_year"] = f"more than {MAX_YEARS_AHEAD} years ahead"
    if "expiry_month" not in errors and "expiry_year" not in errors and (year, month) < (today.year, today.month):
        errors["expiry_year" if year < today.year else "expiry_month"] = "the card has expired"

    cvc = body.get("cvc")
    if cvc is None:
        errors["cvc"] = "required"
    elif not isinstance(cvc, str) or not cvc.isascii() or not cvc.isdigit() or not 3 <= len(cvc) <= 4:
        errors["cvc"] = "must be a string of 3 or 4 digits"

    holder = body.get("holder_name")
    if holder is not None and (not isinstance(holder, str) or not 1 <= len(holder.strip()) <= 200):
        errors["holder_name"] = "must be a non-empty string of at most 200 characters"

    if errors:
        raise InvalidCard(errors)
    assert brand is not None and month is not None and year is not None
    return PaymentMethod(
        payment_method_id=payment_method_id or new_payment_method_id(),
        brand=brand,
        first6=digits[:6],
        last4=digits[-4:],
        expiry_month=month,
        expiry_year=year,
    )
