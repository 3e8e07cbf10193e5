"""Publish envelopes to EventBridge: chunked, retried per failed entry, claim check for big events.

    from shared.publisher import EventPublisher

    publisher = EventPublisher()          # bus from EVENT_BUS_NAME, boto3 client on first publish
    ids = publisher.publish(envelope_a, envelope_b)

* PutEvents takes at most 10 entries and 256 KB per request; entries are sized with AWS's
  formula (Time 14 bytes + Source + DetailType + Detail + Resources, UTF-8 bytes).
* A partial failure (FailedEntryCount > 0) is retried for the failed entries only, with
  exponential backoff and full jitter; non-retryable error codes are not retried.
  `PublishError` lists what still failed after `max_attempts` (and what was published).
* An entry over 256 KB goes to S3 when `claim_check_bucket` is set (see
  `shared.events.claim_check` for the reference shape); otherwise `EventTooLargeError`.
  Every entry is checked before anything is sent.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.events.base import Envelope

logger = logging.getLogger(__name__)

MAX_ENTRIES_PER_REQUEST = 10
MAX_REQUEST_BYTES = 256 * 1024  # also the limit of one entry
TIME_BYTES = 14
# PutEvents per-entry error codes that a retry cannot fix (AWS API reference, PutEventsResultEntry).
NON_RETRYABLE_ERROR_CODES = frozenset(
    {
        "AccessDeniedException",
        "InvalidAccountIdException",
        "InvalidArgument",
        "MalformedDetail",
        "RedactionFailure",
        "NotAuthorizedForSourceException",
        "NotAuthorizedForDetailTypeValueException",
    }
)


def entry_size(entry: dict[str, Any]) -> int:
    """Size of a PutEventsRequestEntry as EventBridge computes it."""
    size = TIME_BYTES if entry.get("Time") is not None else 0
    size += len(entry["Source"].encode()) + len(entry["DetailType"].encode())
    if entry.get("Detail") is not None:
        size += len(entry["Detail"].encode())
    size += sum(len(r.encode()) for r in entry.get("Resources") or ())
    return size


@dataclass(frozen=True)
class FailedEntry:
    event_id: str
    detail_type: str
    error_code: str
    error_message: str


class PublishError(RuntimeError):
    """Some entries were still failing after the last attempt."""

    def __init__(self, failed: list[FailedEntry], published: list[str]) -> None:
        self.failed = failed
        self.published = published  # EventBridge ids of the entries that did go out
        lines = ", ".join(f"{f.detail_type} {f.event_id} ({f.error_code}: {f.error_message})" for f in failed)
        super().__init__(f"{len(failed)} event(s) not published: {lines}")


class EventTooLargeError(ValueError):
    """An entry is over the PutEvents limit and no claim-check bucket is configured."""

    def __init__(self, envelope: Envelope, size: int) -> None:
        self.event_id = envelope.metadata.event_id
        self.detail_type = envelope.detail_type
        self.size = size
        super().__init__(
            f"{self.detail_type} {self.event_id} is {size} bytes, over the {MAX_REQUEST_BYTES}-byte PutEvents "
            "limit; set claim_check_bucket or make the event smaller"
        )


@dataclass
class _Pending:
    envelope: Envelope
    entry: dict[str, Any]
    size: int
    event_bridge_id: str | None = None
    error: tuple[str, str] | None = None


class EventPublisher:
    def __init__(
        self,
        bus_name: str | None = None,
        client: Any = None,
        *,
        max_attempts: int = 4,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        claim_check_bucket: str | None = None,
        s3_client: Any = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self._bus_name = bus_name
        self._client = client
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.claim_check_bucket = claim_check_bucket
        self._s3_client = s3_client

    @property
    def bus_name(self) -> str:
        name = self._bus_name or os.environ.get("EVENT_BUS_NAME")
        if not name:
            raise ValueError("no event bus: pass bus_name= or set EVENT_BUS_NAME")
        return name

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("events")
        return self._client

    @property
    def s3_client(self) -> Any:
        if self._s3_client is None:
            import boto3

            self._s3_client = boto3.client("s3")
        return self._s3_client

    def publish(self, *envelopes: Envelope) -> list[str]:
        """Put every envelope on the bus; returns the EventBridge event ids, in order."""
        if not envelopes:
            return []
        bus = self.bus_name
        pending = [self._prepare(env, bus) for env in envelopes]
        for chunk in _chunks(pending):
            self._send(chunk)
        failed = [p for p in pending if p.event_bridge_id is None]
        if failed:
            raise PublishError(
                [
                    FailedEntry(p.envelope.metadata.event_id, p.envelope.detail_type, *(p.error or ("Unknown", "")))
                    for p in failed
                ],
                [p.event_bridge_id for p in pending if p.event_bridge_id],
            )
        return [p.event_bridge_id for p in pending]  # type: ignore[misc]

    def _prepare(self, envelope: Envelope, bus: str) -> _Pending:
        entry = envelope.to_put_events_entry(bus)
        size = entry_size(entry)
        if size <= MAX_REQUEST_BYTES:
            return _Pending(envelope, entry, size)
        if not self.claim_check_bucket:
            raise EventTooLargeError(envelope, size)
        from shared.events import claim_check
        from shared.events.base import dumps

        reference = claim_check.store(
            entry["Detail"],
            metadata=envelope.model_dump(mode="json", include={"metadata"})["metadata"],
            detail_type=envelope.detail_type,
            occurred_at=envelope.metadata.occurred_at,
            bucket=self.claim_check_bucket,
            s3_client=self.s3_client,
        )
        entry = {**entry, "Detail": dumps(reference)}
        logger.info(
            "event stored as claim check",
            extra={"event_id": envelope.metadata.event_id, "size": size, "key": reference["claim_check"]["key"]},
        )
        return _Pending(envelope, entry, entry_size(entry))

    def _send(self, chunk: list[_Pending]) -> None:
        todo = chunk
        for attempt in range(self.max_attempts):
            if attempt:
                self._sleep(attempt)
            response = self.client.put_events(Entries=[p.entry for p in todo])
            retry = []
            for p, result in zip(todo, response["Entries"], strict=True):
                if result.get("ErrorCode"):
                    p.error = (result["ErrorCode"], result.get("ErrorMessage", ""))
                    if result["ErrorCode"] not in NON_RETRYABLE_ERROR_CODES:
                        retry.append(p)
                else:
                    p.event_bridge_id, p.error = result["EventId"], None
            if not retry:
                return
            logger.warning(
                "PutEvents partial failure; retrying the failed entries",
                extra={"attempt": attempt + 1, "failed": len(retry), "codes": sorted({p.error[0] for p in retry})},
            )
            todo = retry

    def _sleep(self, attempt: int) -> None:
        # Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").
        delay = random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
        if delay > 0:
            time.sleep(delay)


def _chunks(pending: Sequence[_Pending]) -> Iterator[list[_Pending]]:
    chunk: list[_Pending] = []
    size = 0
    for p in pending:
        if chunk and (len(chunk) == MAX_ENTRIES_PER_REQUEST or size + p.size > MAX_REQUEST_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(p)
        size += p.size
    if chunk:
        yield chunk
