"""The thumbnailer on moto: S3 notifications exactly as S3 puts them on the function's queue."""

from __future__ import annotations

import io
import json

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from services.thumbnails.tests import corpus

FN = "thumbnails.create"


def upload(aws, key: str, body: bytes) -> None:
    aws.clients.s3.put_object(Bucket=aws.bucket("thumbnails:uploads"), Key=key, Body=body)


def deliveries(aws) -> dict:
    """The SQS messages S3 sent to the function's queue, as the event source mapping passes them."""
    records = []
    for message in aws.queue_messages(FN):
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message["Attributes"],
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": aws.topology.function(FN).queue_arn,
                "awsRegion": "eu-west-1",
            }
        )
    return {"Records": records}


def thumbnail_objects(aws) -> dict[str, bytes]:
    s3, bucket = aws.clients.s3, aws.bucket("thumbnails:thumbnails")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def test_a_rotated_phone_photo_gets_every_size_upright_and_one_event(aws):
    create = aws.load_handler(FN)
    upload(aws, "uploads/holiday photo.jpg", corpus.jpeg_with_orientation(6))  # 400x300 stored, shown 300x400
    batch = deliveries(aws)
    assert len(batch["Records"]) == 1

    assert create.handler(batch, aws.context(FN)) == {"batchItemFailures": []}

    outputs = thumbnail_objects(aws)
    assert sorted(outputs) == [f"uploads/holiday photo.jpg/{s}.jpg" for s in (128, 256)] + [
        "uploads/holiday photo.jpg/512.jpg"
    ]
    with Image.open(io.BytesIO(outputs["uploads/holiday photo.jpg/256.jpg"])) as img:
        assert img.size == (192, 256)  # portrait: the EXIF rotation was applied
        assert not img.getexif()
    [event] = aws.published()
    assert event["detail-type"] == "ThumbnailCreated"
    data = event["detail"]["data"]
    assert data["source"]["key"] == "uploads/holiday photo.jpg" and data["source"]["version_id"]
    assert [(o["size"], o["width"], o["height"]) for o in data["outputs"]] == [
        (128, 96, 128),
        (256, 192, 256),
        (512, 300, 400),  # never upscaled
    ]


def test_a_redelivered_notification_does_no_work_and_publishes_nothing(aws):
    create = aws.load_handler(FN)
    upload(aws, "uploads/a.png", corpus.rgba_png())
    batch = deliveries(aws)
    create.handler(batch, aws.context(FN))
    first = thumbnail_objects(aws)
    assert aws.published_types() == ["ThumbnailCreated"]
    s3 = aws.clients.s3
    s3.delete_object(Bucket=aws.bucket("thumbnails:thumbnails"), Key="uploads/a.png/128.png")

    assert create.handler(batch, aws.context(FN)) == {"batchItemFailures": []}  # same message again
    assert aws.published() == []
    assert len(thumbnail_objects(aws)) == len(first) - 1  # nothing was written again


def test_a_text_file_named_jpg_is_rejected_finally_and_consumed(aws):
    create = aws.load_handler(FN)
    upload(aws, "uploads/notes.jpg", corpus.text_named_jpg())
    response = create.handler(deliveries(aws), aws.context(FN))
    assert response == {"batchItemFailures": []}  # consumed: not retried, never in the DLQ
    [event] = aws.published()
    assert event["detail-type"] == "ThumbnailRejected"
    assert event["detail"]["data"]["reason"] == "not_an_image"
    assert thumbnail_objects(aws) == {}


@pytest.mark.parametrize(
    ("key", "body", "reason"),
    [
        ("uploads/bomb.png", corpus.png_bomb(), "too_many_pixels"),
        ("uploads/cut.jpg", corpus.truncated_jpeg(), "truncated"),
        ("uploads/legacy.bmp", corpus.bmp(), "format_not_allowed"),
    ],
)
def test_hostile_uploads_end_in_a_reasoned_rejection(aws, key, body, reason):
    create = aws.load_handler(FN)
    upload(aws, key, body)
    assert create.handler(deliveries(aws), aws.context(FN)) == {"batchItemFailures": []}
    [event] = aws.published()
    assert (event["detail-type"], event["detail"]["data"]["reason"]) == ("ThumbnailRejected", reason)


def test_size_is_checked_before_download(aws, monkeypatch):
    create = aws.load_handler(FN)
    monkeypatch.setattr(create, "SPEC", create.ThumbnailSpec(max_source_bytes=1000))
    downloads = []
    monkeypatch.setattr(create.s3, "get_object", lambda **kw: downloads.append(kw))
    upload(aws, "uploads/big.jpg", corpus.photo_4000x3000())
    create.handler(deliveries(aws), aws.context(FN))
    assert downloads == []
    assert aws.published()[0]["detail"]["data"]["reason"] == "too_large_bytes"


def test_throttling_is_retried_and_the_retry_succeeds(aws, monkeypatch):
    create = aws.load_handler(FN)
    upload(aws, "uploads/b.jpg", corpus.jpeg_with_orientation(1))
    batch = deliveries(aws)
    real_get = create.s3.get_object

    def throttled(**kwargs):
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject")

    monkeypatch.setattr(create.s3, "get_object", throttled)
    response = create.handler(batch, aws.context(FN))
    assert response == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}
    assert aws.published() == []

    monkeypatch.setattr(create.s3, "get_object", real_get)  # the queue redelivers it
    assert create.handler(batch, aws.context(FN)) == {"batchItemFailures": []}
    assert aws.published_types() == ["ThumbnailCreated"]


def test_an_old_version_processed_late_never_overwrites_the_new_one(aws):
    create = aws.load_handler(FN)
    upload(aws, "uploads/c.jpg", corpus.jpeg_with_orientation(1))
    old = deliveries(aws)
    upload(aws, "uploads/c.jpg", corpus.jpeg_with_orientation(6))
    new = deliveries(aws)
    create.handler(new, aws.context(FN))
    create.handler(old, aws.context(FN))  # out of order
    assert aws.published_types() == ["ThumbnailCreated"]
    with Image.open(io.BytesIO(thumbnail_objects(aws)["uploads/c.jpg/512.jpg"])) as img:
        assert img.size == (300, 400)  # the newer, rotated version


def test_the_s3_test_event_is_ignored(aws):
    create = aws.load_handler(FN)
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b", "RequestId": "1"})
    record = {
        "messageId": "m-1",
        "receiptHandle": "r",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": aws.topology.function(FN).queue_arn,
        "awsRegion": "eu-west-1",
    }
    assert create.handler({"Records": [record]}, aws.context(FN)) == {"batchItemFailures": []}
    assert aws.published() == []
