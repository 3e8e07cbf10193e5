"""`make demo` scenario: a rotated phone photo gets every size; a text file named .jpg is rejected."""

from __future__ import annotations

import io

from PIL import Image


def _phone_photo() -> bytes:
    """A 1200x900 JPEG stored sideways, with EXIF orientation 6 (shown as 900x1200)."""
    image = Image.linear_gradient("L").resize((1200, 900)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def _outputs(demo, key: str) -> dict[str, tuple[int, int]]:
    s3, bucket = demo.client("s3"), demo.bucket("thumbnails")
    found = {}
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=key + "/").get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        with Image.open(io.BytesIO(body)) as img:
            found[obj["Key"]] = img.size
    return found


def scenario(demo) -> None:
    photo = demo.put_object("uploads", "uploads/demo/phone-photo.jpg", _phone_photo())
    demo.expect_invoked("create", key=photo, what="upload reached thumbnails.create")
    sizes = demo.eventually(
        lambda: (
            len(_outputs(demo, "uploads/demo/phone-photo.jpg")) == 3 and _outputs(demo, "uploads/demo/phone-photo.jpg")
        ),
        "128, 256 and 512 px thumbnails written",
    )
    demo.expect(
        sizes.get("uploads/demo/phone-photo.jpg/512.jpg") == (384, 512),
        "the 512 px thumbnail is upright (portrait 384x512)",
        str(sizes),
    )
    text = demo.put_object("uploads", "uploads/demo/notes.jpg", b"these are my notes, not a picture\n")
    demo.expect_invoked("create", key=text, what="text file named .jpg handled and consumed (not retried)")
    demo.expect(_outputs(demo, "uploads/demo/notes.jpg") == {}, "no thumbnail for the text file")
