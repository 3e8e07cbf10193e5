"""Provider signature checks: plain functions, no AWS.

GitHub signs the raw body with HMAC-SHA256 (`X-Hub-Signature-256: sha256=<hex>`).
Slack signs `v0:<timestamp>:<raw body>` (`X-Slack-Signature: v0=<hex>`) and sends the
timestamp in `X-Slack-Request-Timestamp`; requests older than five minutes are refused
to stop replays. Comparisons are constant-time, over bytes (a header may hold any text:
`hmac.compare_digest` refuses non-ASCII str with a TypeError).
"""

from __future__ import annotations

import hashlib
import hmac

SLACK_MAX_AGE_SECONDS = 300


class SignatureError(ValueError):
    """The request is not signed by the provider; the message says why (safe to return)."""


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_github(secret: str, body: bytes, signature_header: str | None) -> None:
    if not signature_header:
        raise SignatureError("missing X-Hub-Signature-256 header")
    scheme, _, received = signature_header.partition("=")
    if scheme != "sha256" or not received:
        raise SignatureError("X-Hub-Signature-256 must look like sha256=<hex>")
    if not _same(_hmac_hex(secret, body), received.strip().lower()):
        raise SignatureError("signature does not match the body")


def verify_slack(
    secret: str, body: bytes, timestamp_header: str | None, signature_header: str | None, now: float
) -> None:
    if not timestamp_header or not signature_header:
        raise SignatureError("missing X-Slack-Request-Timestamp or X-Slack-Signature header")
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        raise SignatureError("X-Slack-Request-Timestamp is not a number") from None
    if abs(now - timestamp) > SLACK_MAX_AGE_SECONDS:
        raise SignatureError("request timestamp is more than 5 minutes away from now (replay?)")
    expected = "v0=" + _hmac_hex(secret, b"v0:" + timestamp_header.encode() + b":" + body)
    if not _same(expected, signature_header.strip()):
        raise SignatureError("signature does not match the body")


def _same(expected: str, received: str) -> bool:
    return hmac.compare_digest(expected.encode(), received.encode())


def sign_github(secret: str, body: bytes) -> str:
    """The header value GitHub would send (for tests, demos and the local runtime)."""
    return "sha256=" + _hmac_hex(secret, body)


def sign_slack(secret: str, body: bytes, timestamp: int) -> str:
    return "v0=" + _hmac_hex(secret, b"v0:" + str(timestamp).encode() + b":" + body)
