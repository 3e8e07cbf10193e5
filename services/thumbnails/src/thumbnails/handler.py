"""S3 upload -> thumbnails -> S3, one outcome event per uploaded version.

S3 notifies the function's SQS queue (manifest: trigger s3, delivery sqs). For each
object-created record:

1. Idempotency (Powertools, key = bucket + key + version id or ETag): a redelivered
   notification returns the first outcome without reading, writing or publishing again.
2. HeadObject first: the size is checked before any download; an object already
   overwritten by a newer version is skipped (the newer version's notification makes its
   thumbnails, so an old version processed late can never overwrite them).
3. GetObject of exactly the notified version, `make_thumbnails`, PutObject per size.
4. ThumbnailCreated, or ThumbnailRejected with the reason when the upload can never give
   a thumbnail (not an image, disallowed format, too big, bomb, truncated, gone). A
   rejection is final: the message is consumed, not retried, never left in the DLQ.
   Anything else (S3 throttling, a bug) fails the record so SQS retries it, then the DLQ.
"""

from __future__ import annotations

import json
import os
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from shared.batch import process_sqs_batch
from shared.events import new_envelope
from shared.events.thumbnails import SourceObject, ThumbnailCreated, ThumbnailOutput, ThumbnailRejected
from shared.idempotency import idempotent_on
from shared.lazy import aws_client
from shared.observability import logger
from shared.publisher import EventPublisher
from thumbnails.imaging import ImageRejected, ThumbnailSpec, check_source_size, make_thumbnails, thumbnail_key

SPEC = ThumbnailSpec(sizes=tuple(int(size) for size in os.environ.get("THUMBNAIL_SIZES", "128,256,512").split(",")))
THUMBNAILS_BUCKET = os.environ["BUCKET_THUMBNAILS"]
CACHE_CONTROL = "public, max-age=31536000, immutable"
MISSING = {"404", "NoSuchKey", "NoSuchVersion", "NotFound"}

s3 = aws_client("s3")  # created by the first upload, not at import
publisher = EventPublisher()
IDEMPOTENCY_SECONDS = 7 * 24 * 3600  # longer than the queue's retention (4 days)


def _sources(body: dict) -> list[SourceObject]:
    """The uploaded objects of one S3 notification (keys arrive URL-encoded)."""
    sources = []
    for rec in body.get("Records", []):
        if not rec.get("eventName", "").startswith("ObjectCreated:"):
            continue
        obj = rec["s3"]["object"]
        sources.append(
            SourceObject(
                bucket=rec["s3"]["bucket"]["name"],
                key=unquote_plus(obj["key"]),
                version_id=obj.get("versionId") or None,
                etag=obj.get("eTag", "").strip('"') or "unknown",
                size=int(obj.get("size", 0)),
            )
        )
    return sources


def _publish(data) -> str:
    envelope = new_envelope(data, source="thumbnails")
    publisher.publish(envelope)
    return envelope.metadata.event_id


def _reject(source: SourceObject, reason: str, message: str) -> dict:
    logger.warning("upload rejected", extra={"key": source.key, "reason": reason, "detail": message})
    event_id = _publish(ThumbnailRejected(source=source, reason=reason, message=message[:500]))
    return {"outcome": "rejected", "reason": reason, "event_id": event_id}


@idempotent_on("[bucket, key, version_id || etag]", expires_after_seconds=IDEMPOTENCY_SECONDS)
def thumbnail_once(source: SourceObject) -> dict:
    version = {"VersionId": source.version_id} if source.version_id else {}
    try:
        head = s3.head_object(Bucket=source.bucket, Key=source.key)
        if source.version_id and head.get("VersionId") not in (None, source.version_id):
            logger.info("superseded by a newer version", extra={"key": source.key, "version_id": source.version_id})
            return {"outcome": "superseded"}
        check_source_size(head["ContentLength"], SPEC)
        body = s3.get_object(Bucket=source.bucket, Key=source.key, **version)["Body"].read()
        thumbs = make_thumbnails(body, SPEC)
    except ImageRejected as exc:
        return _reject(source, exc.reason_code, str(exc))
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in MISSING:
            raise  # throttling, permissions, ...: retried by SQS
        return _reject(source, "not_found", f"s3://{source.bucket}/{source.key} no longer exists")

    outputs = []
    for thumb in thumbs:
        key = thumbnail_key(source.key, thumb, prefix="")
        s3.put_object(
            Bucket=THUMBNAILS_BUCKET,
            Key=key,
            Body=thumb.body,
            ContentType=thumb.content_type,
            CacheControl=CACHE_CONTROL,
            Metadata={"source-etag": source.etag},
        )
        outputs.append(
            ThumbnailOutput(
                size=thumb.size,
                key=key,
                width=thumb.width,
                height=thumb.height,
                format=thumb.format,
                content_type=thumb.content_type,
                bytes=len(thumb.body),
            )
        )
    event_id = _publish(ThumbnailCreated(source=source, thumbnails_bucket=THUMBNAILS_BUCKET, outputs=outputs))
    logger.info("thumbnails created", extra={"key": source.key, "sizes": [o.size for o in outputs]})
    return {"outcome": "created", "event_id": event_id, "keys": [o.key for o in outputs]}


def handle_message(record) -> None:
    body = json.loads(record.body)
    if body.get("Event") == "s3:TestEvent":  # S3 sends one when the notification is configured
        logger.info("S3 test event ignored")
        return
    for source in _sources(body):
        thumbnail_once(source=source)


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_sqs_batch(event, context, handle_message)  # registers the context for idempotency
