"""Send each email once: a claim in DynamoDB before SES, the outcome after.

SES has no idempotency key, so "once" is ours to enforce. Per email key
(`<order_id>#order_confirmation`, `low_stock#<event_id>`) the ledger item goes through:

    (none) --claim--> sending (token, lease_until) --confirm--> sent (message_id)
                         |  SES answered with an error: release (delete), the retry claims again
                         |  lease expired (the claimant died): the next delivery claims again

* A duplicate delivery after the send finds `sent` and does nothing.
* A concurrent duplicate finds a live claim and raises `SendInProgress`: its record is
  retried by SQS and then finds `sent`.
* The claim's lease lasts until the claiming invocation's deadline (+ a margin): Lambda kills
  it by then, so an expired lease means its owner is gone.

The one window left is a crash after SES accepted the email and before `confirm` wrote it
down (milliseconds). We chose **at-least-once** there: when the lease expires the email is
sent again, so a customer may (rarely) get two confirmations but never none. The other
choice, at-most-once, would leave an expired `sending` claim alone and report it; switch by
passing `resend_after_lease=False`. An error *from* SES (a `ClientError`: rejected,
throttled) means nothing was sent, so the claim is released at once. A connection error or
timeout is ambiguous and keeps the claim until its lease expires.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from shared.observability import logger

RETENTION = timedelta(days=30)  # longer than any SQS retention (max 14 days): duplicates stay caught


class SendInProgress(RuntimeError):
    """Another delivery holds a live claim on this email; retry later."""


class SendOutcomeUnknown(RuntimeError):
    """At-most-once mode: an earlier claim expired without a recorded outcome."""


@dataclass(frozen=True)
class Claim:
    key: str
    token: str


@dataclass(frozen=True)
class SendResult:
    key: str
    sent: bool  # False: it had been sent before (duplicate delivery)
    message_id: str | None


def _now() -> datetime:
    return datetime.now(UTC)


class SendLedger:
    def __init__(self, table: Any, clock: Callable[[], datetime] = _now) -> None:
        self.table = table
        self.clock = clock

    def claim(
        self, key: str, *, lease_seconds: float, details: dict[str, Any], resend_after_lease: bool = True
    ) -> Claim | None:
        """A new claim on `key`, or None if the email was already sent."""
        now = self.clock()
        token = str(uuid.uuid4())
        condition = "attribute_not_exists(email_key)"
        if resend_after_lease:
            condition += " OR (#state = :sending AND lease_until < :now)"
        try:
            self.table.put_item(
                Item={
                    **details,
                    "email_key": key,
                    "state": "sending",
                    "token": token,
                    "claimed_at": now.isoformat(),
                    "lease_until": int((now + timedelta(seconds=lease_seconds)).timestamp()),
                    "expires_at": int((now + RETENTION).timestamp()),
                },
                ConditionExpression=condition,
                **(
                    {
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": {":sending": "sending", ":now": int(now.timestamp())},
                    }
                    if resend_after_lease
                    else {}
                ),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item = self.table.get_item(Key={"email_key": key}, ConsistentRead=True).get("Item") or {}
            if item.get("state") == "sent":
                return None
            if not resend_after_lease and int(item.get("lease_until", 0)) < now.timestamp():
                raise SendOutcomeUnknown(f"{key}: an earlier send may or may not have happened") from None
            raise SendInProgress(
                f"{key}: another delivery is sending it (lease until {item.get('lease_until')})"
            ) from None
        return Claim(key, token)

    def confirm(self, claim: Claim, message_id: str) -> None:
        self.table.update_item(
            Key={"email_key": claim.key},
            UpdateExpression="SET #state = :sent, message_id = :mid, sent_at = :at REMOVE lease_until",
            ConditionExpression="#token = :token",
            ExpressionAttributeNames={"#state": "state", "#token": "token"},
            ExpressionAttributeValues={
                ":sent": "sent",
                ":mid": message_id,
                ":at": self.clock().isoformat(),
                ":token": claim.token,
            },
        )

    def release(self, claim: Claim) -> None:
        """Give the claim up (SES refused the email): the retry may send."""
        try:
            self.table.delete_item(
                Key={"email_key": claim.key},
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": claim.token},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # the lease still expires; the retry claims again then

    def state(self, key: str) -> dict[str, Any] | None:
        return self.table.get_item(Key={"email_key": key}, ConsistentRead=True).get("Item")


def send_once(
    ledger: SendLedger,
    send: Callable[[], str],
    key: str,
    *,
    lease_seconds: float,
    details: dict[str, Any],
    resend_after_lease: bool = True,
) -> SendResult:
    """Claim `key`, call `send()` (returns the provider's message id), record the outcome."""
    claim = ledger.claim(key, lease_seconds=lease_seconds, details=details, resend_after_lease=resend_after_lease)
    if claim is None:
        logger.info("email already sent; duplicate delivery ignored", extra={"email_key": key})
        return SendResult(key, sent=False, message_id=None)
    try:
        message_id = send()
    except ClientError:
        ledger.release(claim)  # SES answered with an error: nothing went out
        raise
    ledger.confirm(claim, message_id)
    logger.info("email sent", extra={"email_key": key, "message_id": message_id})
    return SendResult(key, sent=True, message_id=message_id)


def lease_seconds(context: Any, margin: float = 30.0, default: float = 900.0) -> float:
    """Seconds until the invocation surely ended: its remaining time plus a clock-skew margin."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return (remaining() / 1000 if callable(remaining) else default) + margin
