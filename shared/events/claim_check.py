"""Claim check: an event too large for EventBridge travels as a reference to S3.

When a detail exceeds the PutEvents entry limit (256 KB) and the publisher has a
`claim_check_bucket`, the full detail JSON is stored in S3 and the bus carries:

    {
      "metadata": {...the event's metadata, unchanged...},
      "claim_check": {
        "bucket": "eda-dev-orders-claims-123456789012-eu-west-1",
        "key": "claim-check/OrderPlaced/2026/11/27/<event_id>.json",
        "size": 301234,                       # bytes of the stored detail JSON (UTF-8)
        "sha256": "<hex digest of those bytes>"
      }
    }

There is no `data` key, so rules filtering on `detail.data...` do not match a claim
check; filter on `detail.metadata` for such events. Readers (`parse_eventbridge_event`,
`parse_detail`, the batch helper) resolve the reference transparently; the consumer needs
`s3:GetObject` on the bucket. The bucket should expire objects after the queue retention.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from shared.events.errors import ClaimCheckError

CLAIM_CHECK_FIELD = "claim_check"
KEY_PREFIX = "claim-check"


def is_claim_check(detail: Any) -> bool:
    return isinstance(detail, dict) and CLAIM_CHECK_FIELD in detail and "data" not in detail


def object_key(detail_type: str, event_id: str, occurred_at: Any) -> str:
    return f"{KEY_PREFIX}/{detail_type}/{occurred_at:%Y/%m/%d}/{event_id}.json"


def store(
    detail_json: str, *, metadata: dict[str, Any], detail_type: str, occurred_at: Any, bucket: str, s3_client: Any
) -> dict[str, Any]:
    """Put the full detail in S3 and return the reference detail to publish instead."""
    body = detail_json.encode("utf-8")
    key = object_key(detail_type, metadata["event_id"], occurred_at)
    s3_client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return {
        "metadata": metadata,
        CLAIM_CHECK_FIELD: {
            "bucket": bucket,
            "key": key,
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        },
    }


def resolve(detail: dict[str, Any], *, s3_client: Any = None) -> dict[str, Any]:
    """The full detail a claim-check reference points to (checked against its size and hash)."""
    ref = detail.get(CLAIM_CHECK_FIELD)
    if not isinstance(ref, dict) or not all(isinstance(ref.get(k), str) for k in ("bucket", "key", "sha256")):
        raise ClaimCheckError("claim_check: needs bucket, key and sha256 strings")
    if s3_client is None:
        s3_client = _default_s3_client()
    try:
        body = s3_client.get_object(Bucket=ref["bucket"], Key=ref["key"])["Body"].read()
    except Exception as exc:  # botocore ClientError, without importing botocore here
        raise ClaimCheckError(f"claim_check: cannot read s3://{ref['bucket']}/{ref['key']}: {exc}") from exc
    if hashlib.sha256(body).hexdigest() != ref["sha256"]:
        raise ClaimCheckError(f"claim_check: s3://{ref['bucket']}/{ref['key']} does not match its sha256")
    full = json.loads(body)
    if not isinstance(full, dict) or full.get("metadata", {}).get("event_id") != detail.get("metadata", {}).get(
        "event_id"
    ):
        raise ClaimCheckError("claim_check: the stored detail belongs to another event")
    return full


_s3 = None


def _default_s3_client() -> Any:
    global _s3  # noqa: PLW0603 - one client per execution environment, created on first use
    if _s3 is None:
        import boto3

        _s3 = boto3.client("s3")
    return _s3
