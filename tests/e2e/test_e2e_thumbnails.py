"""Issue 6 acceptance on the local runtime with the real thumbnails service.

A JPEG uploaded with boto3 (as `aws s3 cp` would) gets every size, upright, and a
ThumbnailCreated event; a text file named .jpg gets ThumbnailRejected and its message is
consumed: not retried and not left in the DLQ.
"""

from __future__ import annotations

import io
import shutil

import pytest
from PIL import Image

from devtools.local.runtime import Runtime, RuntimeConfig
from devtools.manifest import SERVICES_DIR

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-thumbnails")]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    root = tmp_path_factory.mktemp("services")
    shutil.copytree(SERVICES_DIR / "thumbnails", root / "thumbnails", ignore=shutil.ignore_patterns("tests"))
    rt = Runtime(
        RuntimeConfig(services_roots=[root], state_dir=tmp_path_factory.mktemp("state"), retry_after=0)
    ).start()
    try:
        yield rt
    finally:
        rt.stop()


def _photo(orientation: int) -> bytes:
    image = Image.linear_gradient("L").resize((1600, 1200)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, exif=exif)
    return out.getvalue()


def _published(runtime: Runtime, detail_type: str) -> list[dict]:
    """Events of this type the bus accepted (this module's runtime runs only thumbnails)."""
    return [p for p in list(runtime.journal.publishes.values()) if p["detail_type"] == detail_type]


def test_an_uploaded_photo_gets_every_size_upright_and_one_created_event(runtime):
    s3 = runtime.client("s3")
    uploads = runtime.topology.buckets["thumbnails:uploads"]
    thumbs = runtime.topology.buckets["thumbnails:thumbnails"]
    s3.put_object(Bucket=uploads, Key="uploads/e2e/phone.jpg", Body=_photo(6))

    def written(_journal) -> bool:
        listed = s3.list_objects_v2(Bucket=thumbs, Prefix="uploads/e2e/phone.jpg/").get("Contents", [])
        return len(listed) == 3

    assert runtime.wait_for(written, timeout=30), runtime.trace(f"s3://{uploads}/uploads/e2e/phone.jpg")
    sizes = {}
    for size in (128, 256, 512):
        body = s3.get_object(Bucket=thumbs, Key=f"uploads/e2e/phone.jpg/{size}.jpg")["Body"].read()
        with Image.open(io.BytesIO(body)) as img:
            sizes[size] = img.size
            assert not img.getexif()  # metadata stripped
    assert sizes == {128: (96, 128), 256: (192, 256), 512: (384, 512)}  # portrait: rotation applied
    assert runtime.wait_for(lambda _j: _published(runtime, "ThumbnailCreated"), timeout=15)
    assert len(_published(runtime, "ThumbnailCreated")) == 1
    # `trace s3://...` follows the upload to the function and on to the event it published (the
    # invocation is journaled when it returns, just after it published)
    source = f"s3://{uploads}/uploads/e2e/phone.jpg"
    assert runtime.wait_for(lambda _j: any(s.get("function") for s in runtime.trace(source)), timeout=10)
    trace = runtime.trace(source)
    assert [s.get("function") or s.get("detail_type") for s in trace] == ["thumbnails.create", "ThumbnailCreated"]


def test_a_text_file_named_jpg_is_rejected_consumed_and_not_retried(runtime):
    s3 = runtime.client("s3")
    uploads = runtime.topology.buckets["thumbnails:uploads"]
    s3.put_object(Bucket=uploads, Key="uploads/e2e/notes.jpg", Body=b"not a picture at all\n")
    assert runtime.wait_for(lambda _j: _published(runtime, "ThumbnailRejected"), timeout=30), runtime.trace(
        f"s3://{uploads}/uploads/e2e/notes.jpg"
    )
    assert len(_published(runtime, "ThumbnailRejected")) == 1

    def attempts(_journal=None) -> list[dict]:
        steps = runtime.trace(f"s3://{uploads}/uploads/e2e/notes.jpg")
        return [s for s in steps if s.get("kind") == "invoke" and s.get("function") == "thumbnails.create"]

    assert runtime.wait_for(attempts, timeout=10)  # the invocation is journaled when it returns
    [attempt] = attempts()
    assert attempt["ok"] and [r["ok"] for r in attempt["records"]] == [True]  # consumed, not failed
    queue = runtime.topology.function("thumbnails.create")
    sqs = runtime.client("sqs")

    def empty(url: str) -> bool:  # the poller deletes the message just after the invocation returns
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}

    for url in (queue.queue_url, queue.dlq_url):
        assert runtime.wait_for(lambda _j, url=url: empty(url), timeout=10), url
    assert runtime.dlq_list("thumbnails.create") == []
