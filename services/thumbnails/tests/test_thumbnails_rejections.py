"""Safety: every hostile or broken upload ends in a final ImageRejected with its reason."""

from __future__ import annotations

import warnings

import pytest
from PIL import Image, ImageFile
from thumbnails.imaging import (
    ImageRejected,
    RejectionReason,
    ThumbnailSpec,
    check_source_size,
    make_thumbnails,
)

from services.thumbnails.tests import corpus


def rejection(data: bytes, spec: ThumbnailSpec | None = None) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        make_thumbnails(data, spec or ThumbnailSpec())
    return caught.value


@pytest.fixture
def no_pixel_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any image's pixels get decoded."""

    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError(f"{self.format} {self.size} was decoded before being rejected")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def test_pillow_is_strict_about_truncated_files() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_a_lenient_pillow_is_refused_rather_than_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        make_thumbnails(corpus.truncated_jpeg())


@pytest.mark.parametrize("make", [corpus.truncated_jpeg, corpus.truncated_png], ids=["jpeg", "png"])
def test_truncated_files_are_rejected(make) -> None:  # type: ignore[no-untyped-def]
    error = rejection(make())
    assert error.reason is RejectionReason.TRUNCATED
    assert error.reason_code == "truncated"


def test_a_png_with_garbage_pixel_data_is_corrupt() -> None:
    error = rejection(corpus.png_with_corrupt_data())
    assert error.reason is RejectionReason.CORRUPT


def test_a_complete_file_with_an_image_signature_but_a_broken_header_is_corrupt() -> None:
    error = rejection(corpus.png_with_invalid_header())
    assert error.reason is RejectionReason.CORRUPT
    assert "PNG" in error.message


def cut(data: bytes, keep: int | float) -> bytes:
    return data[:keep] if isinstance(keep, int) else data[: int(len(data) * keep)]


NOISE = Image.effect_noise((300, 200), 60).convert("RGB")
TRUNCATABLE = {
    "webp lossy": lambda: corpus.encode(NOISE, "WEBP"),
    "webp lossless": lambda: corpus.encode(NOISE, "WEBP", lossless=True),
    "webp animated": corpus.animated_webp,
    "png": lambda: corpus.encode(NOISE, "PNG"),
    "jpeg": lambda: corpus.encode(NOISE, "JPEG", exif=corpus.exif(6)),
    # Another complete JPEG (start/end markers, a scan) inside a header segment, as an EXIF thumbnail is.
    "jpeg with an embedded jpeg": lambda: corpus.encode(
        NOISE, "JPEG", comment=corpus.encode(corpus.corner_marked(), "JPEG")
    ),
    "gif": lambda: corpus.encode(NOISE.convert("P"), "GIF"),
}


@pytest.mark.parametrize("keep", [16, 20, 40, 0.1, 0.5, 0.99], ids=lambda k: f"keep {k}")
@pytest.mark.parametrize("kind", sorted(TRUNCATABLE))
def test_a_file_that_ends_early_is_truncated_whatever_the_format_and_the_cut(kind: str, keep: int | float) -> None:
    """The same answer whichever stage notices: libwebp refuses an incomplete file when it is
    opened (a truncated WebP was "corrupt"), libjpeg and zlib notice while decoding, a cut
    header fails in the plugin (a PNG cut in its header was "corrupt")."""
    error = rejection(cut(TRUNCATABLE[kind](), keep))
    assert error.reason is RejectionReason.TRUNCATED, error.message
    assert kind.split(maxsplit=1)[0].upper() in error.message


def test_a_complete_png_with_a_damaged_chunk_length_is_corrupt_not_truncated() -> None:
    """Pillow says "Truncated File Read" for both; the file's final chunk says it is whole."""
    data = bytearray(corpus.encode(NOISE, "PNG"))
    idat = data.index(b"IDAT")
    data[idat - 4] ^= 0x40  # the IDAT length now points far past the end
    error = rejection(bytes(data))
    assert error.reason is RejectionReason.CORRUPT, error.message


@pytest.mark.parametrize("size", [128, 5000])
@pytest.mark.usefixtures("no_pixel_decoding")
def test_a_disallowed_format_is_named_from_its_signature_without_being_decoded(size: int) -> None:
    """Pillow decodes an ICO's largest frame inside Image.open: naming the format by opening it
    decoded pixels of a format we refuse, and a frame over Pillow's bomb limit was reported as
    "an image format is not allowed". The signature names it; nothing is opened."""
    error = rejection(corpus.ico_around_png(size))
    assert error.reason is RejectionReason.FORMAT_NOT_ALLOWED
    assert error.message.startswith("ICO is not allowed")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"P", RejectionReason.NOT_AN_IMAGE),
        (b"B", RejectionReason.NOT_AN_IMAGE),  # Pillow's DIB signature check raises on fewer than 4 bytes
        (b"\x00\x00", RejectionReason.NOT_AN_IMAGE),
        (b"\xff\xd8", RejectionReason.NOT_AN_IMAGE),
        (b"\x89PNG\r\n\x1a\n", RejectionReason.TRUNCATED),
    ],
)
def test_a_few_bytes_are_a_rejection_not_a_crash(data: bytes, reason: RejectionReason) -> None:
    assert rejection(data).reason is reason


def test_a_disallowed_format_is_named_by_its_content_not_its_extension() -> None:
    bmp_cut_short = corpus.bmp()[:30]  # not even a readable header: still a BMP, and refused as one
    error = rejection(bmp_cut_short)
    assert (error.reason, error.message.split()[0]) == (RejectionReason.FORMAT_NOT_ALLOWED, "BMP")


@pytest.mark.parametrize(
    "side",
    [
        7746,  # 60 MP: over our 50 MP limit, under Pillow's own
        10000,  # 100 MP: Pillow's DecompressionBombWarning, turned into the rejection
        30000,  # 900 MP: Pillow's DecompressionBombError
    ],
)
@pytest.mark.usefixtures("no_pixel_decoding")
def test_a_png_decompression_bomb_is_rejected_from_its_header(side: int) -> None:
    limit_before, filters_before = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    data = corpus.png_bomb(side)
    assert len(data) < 200
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert rejection(data).reason is RejectionReason.TOO_MANY_PIXELS
    # Pillow's warning became the rejection: it is not left to be printed to the logs.
    assert not [w for w in seen if issubclass(w.category, Image.DecompressionBombWarning)]
    assert limit_before == Image.MAX_IMAGE_PIXELS
    assert warnings.filters == filters_before  # the warning-as-error filter did not leak


@pytest.mark.usefixtures("no_pixel_decoding")
def test_a_jpeg_declaring_huge_dimensions_is_rejected_from_its_header() -> None:
    assert rejection(corpus.jpeg_declaring(20000, 15000)).reason is RejectionReason.TOO_MANY_PIXELS


def test_the_pixel_limit_comes_from_the_spec() -> None:
    data = corpus.encode(corpus.corner_marked(400, 300), "JPEG")
    error = rejection(data, ThumbnailSpec(max_pixels=400 * 300 - 1))
    assert error.reason is RejectionReason.TOO_MANY_PIXELS
    assert "400x300" in error.message
    assert make_thumbnails(data, ThumbnailSpec(max_pixels=400 * 300))


@pytest.mark.parametrize("data", [corpus.text_named_jpg(), b"", b"\x00" * 64], ids=["text", "empty", "zeros"])
def test_what_is_not_an_image_says_so(data: bytes) -> None:
    assert rejection(data).reason is RejectionReason.NOT_AN_IMAGE


@pytest.mark.parametrize(
    ("make", "name"), [(corpus.bmp, "BMP"), (corpus.ico, "ICO"), (corpus.psd, "PSD"), (corpus.tiff, "TIFF")]
)
def test_formats_outside_the_allow_list_are_rejected_by_name(make, name: str) -> None:  # type: ignore[no-untyped-def]
    error = rejection(make())
    assert error.reason is RejectionReason.FORMAT_NOT_ALLOWED
    assert name in error.message


def test_the_allow_list_applies_to_allowed_formats_too() -> None:
    spec = ThumbnailSpec(allowed_formats=frozenset({"PNG"}))
    error = rejection(corpus.encode(corpus.corner_marked(), "JPEG"), spec)
    assert error.reason is RejectionReason.FORMAT_NOT_ALLOWED
    assert "JPEG" in error.message


def test_the_source_size_is_checked_before_download() -> None:
    spec = ThumbnailSpec(max_source_bytes=1000)
    check_source_size(1000, spec)
    with pytest.raises(ImageRejected) as caught:
        check_source_size(1001, spec)
    assert caught.value.reason is RejectionReason.TOO_LARGE_BYTES
    with pytest.raises(ImageRejected) as caught:
        check_source_size(0, spec)
    assert caught.value.reason is RejectionReason.NOT_AN_IMAGE


def test_oversize_bytes_are_rejected_without_decoding() -> None:
    data = corpus.encode(corpus.corner_marked(), "PNG")
    assert rejection(data, ThumbnailSpec(max_source_bytes=len(data) - 1)).reason is RejectionReason.TOO_LARGE_BYTES


def test_a_rejection_is_final_and_carries_its_code() -> None:
    first, second = rejection(corpus.text_named_jpg()), rejection(corpus.text_named_jpg())
    assert (first.reason, first.message) == (second.reason, second.message)
    assert str(first).startswith("not_an_image: ")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sizes": ()},
        {"sizes": (0, 128)},
        {"sizes": (128.5,)},
        {"jpeg_quality": 0},
        {"webp_quality": 101},
        {"max_source_bytes": 0},
        {"max_pixels": 0},
        {"max_pixels": 10**10},  # above Pillow's own limit, whose warning we treat as a bomb
        {"allowed_formats": frozenset({"BMP"})},
        {"allowed_formats": frozenset()},
        {"alpha_format": "GIF"},
        {"resample": Image.Resampling.NEAREST},
    ],
)
def test_an_invalid_spec_is_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ThumbnailSpec(**kwargs)


def test_a_spec_normalises_sizes_and_format_names() -> None:
    spec = ThumbnailSpec(sizes=(512, 128, 256, 128), allowed_formats=frozenset({"jpeg", "png"}))
    assert spec.sizes == (128, 256, 512)
    assert spec.allowed_formats == {"JPEG", "PNG"}
