"""Mask card numbers and secrets before anything is logged.

    >>> mask_pan("4111 1111 1111 1111")
    '411111******1111'
    >>> mask({"card": "4111-1111-1111-1111", "password": "hunter2", "note": "Bearer abc.def"})
    {'card': '411111******1111', 'password': '*****', 'note': 'Bearer *****'}

Rules:
* PAN: 13-19 digits (spaces or dashes allowed between them), Luhn-valid, first digit 2-6
  (the card-issuing industries of ISO/IEC 7812; this keeps 13-digit epoch-millisecond
  timestamps, which start with 1, readable). Kept: first 6 and last 4 digits.
* Secrets: the value of any key named like password/passwd/secret/token/authorization/
  api_key/cvv/cvc/cookie/private_key/credential is replaced whole, whatever its type.
  In free text: `Bearer <token>`/`Basic <creds>` and `password=...`/`"token": "..."` pairs.

Stdlib only, so every module can use it without import cost.
"""

from __future__ import annotations

import re
from dataclasses import asdict, is_dataclass
from typing import Any

MASK = "*****"

_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)|^pwd$|^pass$|secret|token|authori[sz]ation|api[-_]?key|^x-api-key$|cvv|cvc|"
    r"cookie|private[-_]?key|credential|signing[-_]?key|session[-_]?id",
    re.IGNORECASE,
)
_PAN_KEY = re.compile(r"^(pan|card[-_]?number|cardnumber|card[-_]?no|account[-_]?number)$", re.IGNORECASE)
# A run of digits with single spaces/dashes between them; PANs are searched inside it.
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d)*")
_SEPARATOR = re.compile(r"([ -])")
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)
_KV_SECRET = re.compile(
    r"""(?P<key>["']?\b(?:password|passwd|secret|client_secret|token|access_token|refresh_token|api[-_]?key|cvv|cvc)"""
    r"""["']?\s*[:=]\s*)(?P<q>["']?)(?P<value>[^"'\s&,;}]+)""",
    re.IGNORECASE,
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask_pan(pan: str | int) -> str:
    """First 6 and last 4 digits of a card number, the rest as `*`; separators are dropped."""
    digits = re.sub(r"[ -]", "", str(pan))
    if not digits.isdigit() or not 13 <= len(digits) <= 19:
        raise ValueError("a PAN has 13 to 19 digits")
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def _looks_like_pan(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


def _mask_digit_run(m: re.Match[str]) -> str:
    """Mask every PAN inside a run like "4111 1111 1111 1111 2024" (longest match first)."""
    run = m.group(0)
    if sum(c.isdigit() for c in run) < 13:
        return run
    parts = _SEPARATOR.split(run)  # [group, sep, group, sep, ...]
    groups, seps = parts[0::2], [*parts[1::2], ""]
    out: list[str] = []
    i = 0
    while i < len(groups):
        end, digits = None, ""
        for j in range(i, len(groups)):
            digits += groups[j]
            if len(digits) > 19:
                break
            if _looks_like_pan(digits):
                end, pan = j, digits
        if end is None:
            out.append(groups[i] + seps[i])
            i += 1
        else:
            out.append(mask_pan(pan) + seps[end])
            i = end + 1
    return "".join(out)


def mask_text(text: str) -> str:
    """Mask PANs, auth headers and `secret=value` pairs inside free text."""
    if not text:
        return text
    if any(c.isdigit() for c in text):
        text = _DIGIT_RUN.sub(_mask_digit_run, text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _KV_SECRET.sub(lambda m: f"{m.group('key')}{m.group('q')}{MASK}", text)


def _is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


def mask(obj: Any, _depth: int = 0) -> Any:
    """A masked copy of `obj` (dicts, lists, tuples, sets, strings, ints, pydantic models, dataclasses)."""
    if _depth > 32:  # pathological nesting: give up on the structure, keep the text safe
        return mask_text(str(obj))
    if isinstance(obj, str):
        return mask_text(obj)
    if isinstance(obj, bool) or obj is None or isinstance(obj, float):
        return obj
    if isinstance(obj, int):
        text = str(obj)
        return mask_pan(text) if _looks_like_pan(text) else obj
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if _is_secret_key(key):
                out[key] = MASK if value not in (None, "") else value
            elif _PAN_KEY.match(str(key)) and isinstance(value, str | int) and not isinstance(value, bool):
                try:
                    out[key] = mask_pan(value)
                except ValueError:
                    out[key] = MASK
            else:
                out[key] = mask(value, _depth + 1)
        return out
    if isinstance(obj, list | tuple | set | frozenset):
        return [mask(v, _depth + 1) for v in obj]
    if callable(getattr(obj, "model_dump", None)):
        return mask(obj.model_dump(mode="json"), _depth + 1)
    if is_dataclass(obj) and not isinstance(obj, type):
        return mask(asdict(obj), _depth + 1)
    if isinstance(obj, bytes | bytearray):
        return mask_text(obj.decode("utf-8", "replace"))
    return obj
