"""Money: Decimal amounts with ISO 4217 minor units, conversion through rates, locale formatting.

No floats anywhere: amounts are `Decimal`, quantized to the currency's minor units
(JPY has none, EUR two, BHD three), rounded half-even (banker's rounding, what card
networks and most ledgers use). On the wire (events, JSON) an amount is a string.

    >>> price = Money.of("19.99", "EUR")
    >>> (price * 3).amount
    Decimal('59.97')
    >>> convert(price, "JPY", {("EUR", "JPY"): Decimal("161.2345")}).amount
    Decimal('3223')
    >>> format_money(Money.of("1234.5", "EUR"), "de")  # with a no-break space
    '1.234,50\xa0€'

Formatting covers the locales we send mail in (en, de, fr, es, ja) with CLDR's patterns,
written out here instead of shipping Babel's locale data (~30 MB) in every zip.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

# ISO 4217 minor units of the currencies we sell in.
MINOR_UNITS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "SEK": 2,
    "PLN": 2,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
    "JPY": 0,
    "KRW": 0,
    "BHD": 3,
}

SYMBOLS: dict[str, str] = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF", "KRW": "₩"}


class MoneyError(ValueError):
    """An amount or currency we cannot represent exactly."""


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise MoneyError(f"unsupported currency {currency!r}; supported: {sorted(MINOR_UNITS)}") from None


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        raise MoneyError("floats are not money: pass a str or Decimal")
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise MoneyError(f"{value!r} is not an amount") from None


@dataclass(frozen=True, order=True)
class Money:
    """An exact amount in one currency, always quantized to the currency's minor units."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        amount = _to_decimal(self.amount)
        if not amount.is_finite():
            raise MoneyError(f"{amount} is not a finite amount")
        quantized = amount.quantize(_quantum(self.currency), rounding=ROUND_HALF_EVEN)
        object.__setattr__(self, "amount", quantized)

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        return cls(_to_decimal(amount), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        return cls(Decimal(minor).scaleb(-minor_units(currency)), currency)

    @property
    def minor(self) -> int:
        """Integer amount in minor units (cents; yen for JPY), what card processors take."""
        return int(self.amount.scaleb(minor_units(self.currency)))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {getattr(other, 'currency', other)!r}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, float):
            raise MoneyError("floats are not money: multiply by an int or Decimal")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def to_json(self) -> dict[str, str]:
        return {"amount": str(self.amount), "currency": self.currency}


def total(amounts: list[Money], currency: str) -> Money:
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result


def convert(money: Money, to: str, rates: dict[tuple[str, str], Decimal]) -> Money:
    """Convert with a rate from the rates table: rates[(from, to)], or 1 / rates[(to, from)]."""
    if money.currency == to:
        return money
    rate = rates.get((money.currency, to))
    if rate is None:
        inverse = rates.get((to, money.currency))
        if inverse is None:
            raise MoneyError(f"no rate {money.currency}->{to} in the rates table")
        rate = Decimal(1) / _to_decimal(inverse)
    return Money(money.amount * _to_decimal(rate), to)


# --------------------------------------------------------------------------- formatting
# CLDR number patterns: (group separator, decimal separator, pattern with {n} and {s}).
_LOCALES: dict[str, tuple[str, str, str]] = {
    "en": (",", ".", "{s}{n}"),
    "de": (".", ",", "{n}\u00a0{s}"),
    "fr": ("\u202f", ",", "{n}\u00a0{s}"),
    "es": (".", ",", "{n}\u00a0{s}"),
    "ja": (",", ".", "{s}{n}"),
}
# Symbols a locale writes differently (CLDR): Japanese writes the yen sign full-width.
_LOCAL_SYMBOLS: dict[tuple[str, str], str] = {("ja", "JPY"): "￥"}
SUPPORTED_LOCALES = tuple(_LOCALES)


def language(locale: str) -> str:
    """'de-AT' / 'de_AT' / 'de' -> 'de'; an unsupported language falls back to English."""
    lang = locale.replace("_", "-").split("-", 1)[0].lower()
    return lang if lang in _LOCALES else "en"


def format_money(money: Money, locale: str) -> str:
    """Format for humans in `locale`, e.g. en '$1,234.50', de '1.234,50 €', ja '￥1,235'."""
    lang = language(locale)
    group, decimal_sep, pattern = _LOCALES[lang]
    sign = "-" if money.amount < 0 else ""
    digits = f"{abs(money.amount):f}"
    whole, _, fraction = digits.partition(".")
    grouped = ""
    # CLDR minimumGroupingDigits: Spanish leaves 4-digit numbers ungrouped ("1234,50 €").
    min_digits = 5 if lang == "es" else 4
    while len(whole) > 3 and len(whole) + len(grouped) >= min_digits:
        grouped = group + whole[-3:] + grouped
        whole = whole[:-3]
    number = whole + grouped + (decimal_sep + fraction if fraction else "")
    symbol = _LOCAL_SYMBOLS.get((lang, money.currency), SYMBOLS.get(money.currency, money.currency))
    if len(symbol) > 1 and pattern.startswith("{s}"):
        symbol += "\u00a0"  # a code before the number is spaced: "CHF 12.00"
    return sign + pattern.format(n=number, s=symbol)


# --------------------------------------------------------------------------- pydantic types


def _amount_in(value: Any) -> Decimal:
    amount = _to_decimal(value)
    if not amount.is_finite():
        raise MoneyError(f"{value!r} is not a finite amount")
    return amount


DecimalAmount = Annotated[
    Decimal,
    BeforeValidator(_amount_in),
    PlainSerializer(str, return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d{1,3})?$", "description": "decimal amount as a string"}),
]
"""A Decimal amount that travels as a string ("12.34") in JSON: never a float."""
