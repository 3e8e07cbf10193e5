"""Card input validation and the stored payment method: plain Python, no AWS.

    >>> method = register_card({"card_number": "4242 4242 4242 4242", "expiry_month": 12,
    ...                         "expiry_year": 2030, "cvc": "123"}, today=date(2026, 11, 27))
    >>> (method.brand, method.first6, method.last4)
    ('visa', '424242', '4242')

`CardIn` is the request body (validated by Powertools in `payments.api`): strict JSON types
(an expiry is a JSON integer, the number and the CVC are strings), one reason per field.
`payment_method(card, today=...)` adds the checks that need the date and keeps what may be
kept; `register_card(body, today=...)` does both for a plain dict.

PCI DSS: the full card number (PAN) and the CVC exist only inside these arguments; what
comes out (`PaymentMethod`) keeps the brand, the first 6 and last 4 digits and the expiry.
Reasons never quote the input, not even the names of unknown fields (a client may send a
number as a name), and `hide_input_in_errors` keeps the input out of a ValidationError's text.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from shared.masking import luhn_valid
from shared.problems import field_errors

MAX_YEARS_AHEAD = 20  # issuers print at most ~10 years; 20 rejects typos like 2205
_SEPARATORS = re.compile(r"[ -]")
_PM_ID = re.compile(r"^pm_[0-9a-z]{8,40}$")


class InvalidCard(ValueError):
    """The card input is invalid; `errors` maps each field (`""`: the body itself) to a reason
    (safe to return and log)."""

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
    owner: str | None = None  # the customer who registered it (the token's sub); None: before owners

    def expired(self, today: date) -> bool:
        """Cards are valid through the last day of their expiry month."""
        return (self.expiry_year, self.expiry_month) < (today.year, today.month)

    def belongs_to(self, customer_id: str | None) -> bool:
        """Only its owner may pay with it. A method stored before owners were recorded belongs to nobody."""
        return self.owner is not None and self.owner == customer_id

    @property
    def masked(self) -> str:
        return f"{self.first6}******{self.last4}"


def new_payment_method_id() -> str:
    return "pm_" + uuid.uuid4().hex[:24]


def is_payment_method_id(value: str) -> bool:
    return bool(_PM_ID.match(value))


# --------------------------------------------------------------------------- the request body


def _card_number(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a string of digits")
    digits = _SEPARATORS.sub("", value.strip())
    if not digits.isdigit() or not digits.isascii():
        raise ValueError("must contain only digits (spaces or dashes between them allowed)")
    if not 13 <= len(digits) <= 19:
        raise ValueError("must have 13 to 19 digits")
    if not luhn_valid(digits):
        raise ValueError("fails the Luhn check (mistyped?)")
    brand = brand_of(digits)
    if brand is None:
        raise ValueError("card network not accepted (" + ", ".join(b for b, _, _ in _BRANDS) + ")")
    if len(digits) not in _lengths(brand):
        raise ValueError(f"a {brand} card number has {' or '.join(map(str, _lengths(brand)))} digits")
    return digits


def _whole_number(low: int, high: int, reason: str):
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(reason)
        return value

    return check


def _cvc(value: Any) -> Any:
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or not 3 <= len(value) <= 4:
        raise ValueError("must be a string of 3 or 4 digits")
    return value


def _holder(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 200:
        raise ValueError("must be a non-empty string of at most 200 characters")
    return value


class CardIn(BaseModel):
    """`POST /payment-methods` body. `card_number` comes out as its digits only."""

    # defer_build: the validator is built by the first request, not at import
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, hide_input_in_errors=True, defer_build=True)

    # repr=False: Powertools logs the route's arguments at DEBUG; the PAN and CVC stay out of it.
    card_number: Annotated[
        str, BeforeValidator(_card_number), Field(description="13-19 digits, Luhn-valid", repr=False)
    ]
    expiry_month: Annotated[StrictInt, BeforeValidator(_whole_number(1, 12, "must be a month number 1..12"))]
    expiry_year: Annotated[StrictInt, BeforeValidator(_whole_number(2000, 2099, "must be a four-digit year"))]
    cvc: Annotated[StrictStr, BeforeValidator(_cvc), Field(repr=False)]
    holder_name: Annotated[StrictStr | None, BeforeValidator(_holder), Field(repr=False)] = None  # never stored


def payment_method(
    card: CardIn, *, today: date, payment_method_id: str | None = None, owner: str | None = None
) -> PaymentMethod:
    """What we keep of a valid card body, after the checks that need today's date."""
    if card.expiry_year > today.year + MAX_YEARS_AHEAD:
        raise InvalidCard({"expiry_year": f"more than {MAX_YEARS_AHEAD} years ahead"})
    if (card.expiry_year, card.expiry_month) < (today.year, today.month):
        raise InvalidCard({"expiry_year" if card.expiry_year < today.year else "expiry_month": "the card has expired"})
    brand = brand_of(card.card_number)
    assert brand is not None  # CardIn accepted the number
    return PaymentMethod(
        payment_method_id=payment_method_id or new_payment_method_id(),
        brand=brand,
        first6=card.card_number[:6],
        last4=card.card_number[-4:],
        expiry_month=card.expiry_month,
        expiry_year=card.expiry_year,
        owner=owner,
    )


def register_card(
    body: Any, *, today: date, payment_method_id: str | None = None, owner: str | None = None
) -> PaymentMethod:
    """Validate `{card_number, expiry_month, expiry_year, cvc, holder_name?}` and keep what may be kept.

    Raises `InvalidCard` with one reason per invalid field (never echoing the value).
    """
    try:
        card = CardIn.model_validate(body)
    except ValidationError as exc:
        raise InvalidCard({e["field"]: e["reason"] for e in field_errors(exc.errors(include_input=False))}) from None
    return payment_method(card, today=today, payment_method_id=payment_method_id, owner=owner)
