"""Masking of card numbers and secrets, in the helpers and in everything the logger writes."""

from __future__ import annotations

import pytest

from shared.masking import MASK, luhn_valid, mask, mask_pan, mask_text
from shared.observability import logger, set_correlation

VISA = "4111111111111111"
MASTERCARD_2 = "2223000048410010"
AMEX = "378282246310005"


@pytest.mark.parametrize(
    ("pan", "masked"),
    [
        ("4111 1111 1111 1111", "411111******1111"),
        ("4111-1111-1111-1111", "411111******1111"),
        (VISA, "411111******1111"),
        (int(VISA), "411111******1111"),
        (AMEX, "378282*****0005"),
        ("4222222222222", "422222***2222"),  # 13 digits
        ("6011 0009 9013 9424 123", "601100*********4123"),  # 19 digits
    ],
)
def test_mask_pan_keeps_first_six_and_last_four(pan, masked):
    assert mask_pan(pan) == masked


def test_mask_pan_refuses_what_is_not_a_pan():
    for bad in ("4111 1111", "41111111111111111111", "4111-abcd-1111-1111"):
        with pytest.raises(ValueError):
            mask_pan(bad)


def test_luhn():
    assert luhn_valid(VISA) and luhn_valid(AMEX) and luhn_valid(MASTERCARD_2)
    assert not luhn_valid("4111111111111112")


def test_mask_text_finds_pans_but_leaves_other_numbers():
    spaced = f"{VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]}"
    text = f"paid with {spaced} on 2026-11-27 at 1795768200000, ref 4111111111111112"
    assert mask_text(text) == ("paid with 411111******1111 on 2026-11-27 at 1795768200000, ref 4111111111111112")
    # A PAN followed by more digit groups is still found.
    assert mask_text(f"{VISA} 12") == "411111******1111 12"


def test_mask_is_recursive_and_masks_secret_keys_whatever_the_value():
    record = {
        "card": VISA,
        "nested": [{"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"}, (int(MASTERCARD_2),)],
        "password": "hunter2",
        "client_secret": 12345,
        "headers": {"x-api-key": "abc", "content-type": "application/json"},
        "cvv": "123",
        "pan": "not-a-number",
        "note": "token=abc123&user=1 and Bearer xyz",
        "amount": 1250,
        "empty_token": None,
    }
    assert mask(record) == {
        "card": "411111******1111",
        "nested": [{"Authorization": MASK}, ["222300******0010"]],
        "password": MASK,
        "client_secret": MASK,
        "headers": {"x-api-key": MASK, "content-type": "application/json"},
        "cvv": MASK,
        "pan": MASK,
        "note": f"token={MASK}&user=1 and Bearer {MASK}",
        "amount": 1250,
        "empty_token": None,
    }
    assert record["password"] == "hunter2"  # a copy, the input is untouched


def test_mask_handles_models(webhook_data):
    data = webhook_data(summary=f"card {VISA} used")
    assert mask(data)["summary"] == "card 411111******1111 used"


# ------------------------------------------------------------------ the logger


def test_logged_card_numbers_and_passwords_never_reach_the_output(log_lines):
    logger.info(
        {"order": "o-1", "card_number": f"{VISA[:4]}-{VISA[4:8]}-{VISA[8:12]}-{VISA[12:]}", "password": "hunter2"}
    )
    logger.info("charge failed for card %s", VISA, extra={"authorization": "Bearer sk_live_abc", "user": "u-1"})
    logger.append_keys(api_key="key-123")
    try:
        raise ValueError(f"declined: {AMEX}")
    except ValueError:
        logger.exception("payment error")
    finally:
        logger.remove_keys(["api_key"])

    text = log_lines.text
    for secret in ("hunter2", VISA, "4111-1111-1111-1111", "sk_live_abc", "key-123", AMEX):
        assert secret not in text
    first, second, third = log_lines()
    assert first["message"] == {"order": "o-1", "card_number": "411111******1111", "password": MASK}
    assert second["message"] == "charge failed for card 411111******1111"
    assert second["authorization"] == MASK and second["user"] == "u-1"
    assert "378282*****0005" in third["exception"] and third["api_key"] == MASK


def test_objects_serialised_by_str_are_masked_too(log_lines):
    class Payment:
        def __str__(self) -> str:
            return f"Payment(card={VISA})"

    logger.info("payment", extra={"payment": Payment()})
    assert VISA not in log_lines.text and "411111******1111" in log_lines.text


def test_set_correlation(log_lines, webhook_data):
    from shared.events import new_envelope

    envelope = new_envelope(webhook_data(), source="webhooks", correlation_id="req-7", region="eu-west-1")
    set_correlation(envelope)
    logger.info("one")
    set_correlation("req-8")
    logger.info("two")
    set_correlation(None)
    logger.info("three")
    one, two, three = log_lines()
    assert (one["correlation_id"], one["event_id"]) == ("req-7", envelope.metadata.event_id)
    assert two["correlation_id"] == "req-8" and "event_id" not in two
    assert "correlation_id" not in three


def test_service_name_and_lazy_metrics_and_tracer(monkeypatch):
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, shared.observability as o; "
        "print(o.logger.service, 'aws_xray_sdk' in sys.modules); "
        "t = o.tracer; m = o.metrics; print(type(t).__name__, type(m).__name__, o.tracer is t)"
    )
    env = {"PATH": "/usr/bin:/bin", "POWERTOOLS_SERVICE_NAME": "orders", "POWERTOOLS_METRICS_NAMESPACE": "eda"}
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root, env=env)
    assert out.stdout.split("\n")[:2] == ["orders False", "Tracer Metrics True"]
