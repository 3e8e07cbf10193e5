"""Correct output: sizes, EXIF orientation, colour modes, alpha, first frames, no metadata.

Every output is read back with Pillow: the format, dimensions and content type it claims
must be what the bytes are.
"""

from __future__ import annotations

import io
import itertools
import struct

import pytest
from PIL import Image, ImageChops, ImageStat, JpegImagePlugin
from thumbnails.imaging import Thumbnail, ThumbnailSpec, make_thumbnails, thumbnail_key

from services.thumbnails.tests import corpus

SMALL = ThumbnailSpec(sizes=(64, 128))


def read_back(thumb: Thumbnail) -> Image.Image:
    image = Image.open(io.BytesIO(thumb.body))
    assert image.format == thumb.format
    assert image.size == (thumb.width, thumb.height)
    assert thumb.content_type == Image.MIME[thumb.format]
    assert thumb.key_suffix == f"{thumb.size}.{thumb.extension}"
    image.load()
    return image


def close_to(actual: tuple[int, ...] | int, expected: tuple[int, ...] | int, tolerance: int = 40) -> bool:
    actual_t = actual if isinstance(actual, tuple) else (actual,)
    expected_t = expected if isinstance(expected, tuple) else (expected,)
    if len(actual_t) != len(expected_t):
        return False
    return all(abs(a - e) <= tolerance for a, e in zip(actual_t, expected_t, strict=True))


def test_a_12mp_photo_gives_the_three_default_sizes() -> None:
    thumbs = make_thumbnails(corpus.photo_4000x3000())
    assert [(t.size, t.width, t.height, t.format) for t in thumbs] == [
        (128, 128, 96, "JPEG"),
        (256, 256, 192, "JPEG"),
        (512, 512, 384, "JPEG"),
    ]
    for thumb in thumbs:
        image = read_back(thumb)
        assert image.mode == "RGB"
        assert thumb.extension == "jpg"
        assert thumb.content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("size", "decoded"),
    [
        ((4000, 3000), (500, 375)),  # 1/8: 500 is 97.7% of 512, enlarged by 2.4% (see _DRAFT_COVER)
        ((4032, 3024), (504, 378)),  # the phone size: 98.4%
        ((3800, 2850), (950, 713)),  # 1/8 would be 475, 7% short: 1/4
        ((20000, 10), (10000, 5)),  # 1/8 would leave a last row of 2 real rows and 6 padding: 1/2
    ],
)
def test_a_jpeg_is_decoded_at_a_reduced_scale_close_to_the_largest_size(
    monkeypatch: pytest.MonkeyPatch, size: tuple[int, int], decoded: tuple[int, int]
) -> None:
    sizes: list[tuple[int, int]] = []
    original_load = JpegImagePlugin.JpegImageFile.load

    def spying_load(self: JpegImagePlugin.JpegImageFile):  # type: ignore[no-untyped-def]
        result = original_load(self)
        sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spying_load)
    data = (
        corpus.photo_4000x3000() if size == (4000, 3000) else corpus.encode(Image.new("RGB", size, corpus.GREY), "JPEG")
    )
    thumbs = make_thumbnails(data)
    assert sizes[0] == decoded
    assert (thumbs[-1].width, thumbs[-1].height) == _fit_512(size)


def _fit_512(size: tuple[int, int]) -> tuple[int, int]:
    scale = 512 / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


@pytest.mark.parametrize(
    ("orientation", "red_corner", "green_corner"),
    [
        (1, "top_left", "top_right"),
        (2, "top_right", "top_left"),
        (3, "bottom_right", "bottom_left"),
        (4, "bottom_left", "bottom_right"),
        (5, "top_left", "bottom_left"),
        (6, "top_right", "bottom_right"),
        (7, "bottom_right", "top_right"),
        (8, "bottom_left", "top_left"),
    ],
)
def test_exif_orientation_is_applied(orientation: int, red_corner: str, green_corner: str) -> None:
    thumbs = make_thumbnails(corpus.jpeg_with_orientation(orientation), SMALL)
    turned = orientation >= 5
    assert [(t.width, t.height) for t in thumbs] == ([(48, 64), (96, 128)] if turned else [(64, 48), (128, 96)])
    image = read_back(thumbs[-1])
    w, h = image.size
    corners = {"top_left": (3, 3), "top_right": (w - 4, 3), "bottom_left": (3, h - 4), "bottom_right": (w - 4, h - 4)}
    assert close_to(image.getpixel(corners[red_corner]), corpus.RED)
    assert close_to(image.getpixel(corners[green_corner]), corpus.GREEN)
    for corner in set(corners) - {red_corner, green_corner}:
        assert close_to(image.getpixel(corners[corner]), corpus.GREY)
    assert not image.getexif()  # and the orientation tag is gone, so nothing turns it twice


def test_an_image_smaller_than_a_size_is_never_upscaled() -> None:
    data = corpus.encode(corpus.corner_marked(100, 80), "JPEG")
    thumbs = make_thumbnails(data, ThumbnailSpec(sizes=(64, 128, 256)))
    assert [(t.size, t.width, t.height) for t in thumbs] == [(64, 64, 51), (128, 100, 80), (256, 100, 80)]
    assert thumbs[1].body is thumbs[2].body  # one encode for identical outputs
    for thumb in thumbs:
        read_back(thumb)


def test_extreme_aspect_ratios_keep_at_least_one_pixel() -> None:
    data = corpus.encode(Image.new("RGB", (3000, 2), corpus.BLUE), "PNG")
    thumbs = make_thumbnails(data, SMALL)
    assert [(t.width, t.height) for t in thumbs] == [(64, 1), (128, 1)]


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    thumbs = make_thumbnails(corpus.cmyk_jpeg(), SMALL)
    image = read_back(thumbs[-1])
    assert thumbs[-1].format == "JPEG"
    assert image.mode == "RGB"
    assert close_to(image.getpixel((10, 30)), (0, 255, 255))  # cyan ink
    assert close_to(image.getpixel((118, 30)), (255, 0, 255))  # magenta ink


def test_an_embedded_icc_profile_is_applied_then_dropped() -> None:
    # Pure red in a profile whose red and green primaries are swapped is sRGB green.
    thumbs = make_thumbnails(corpus.jpeg_with_foreign_profile(), SMALL)
    image = read_back(thumbs[-1])
    assert close_to(image.getpixel((60, 30)), corpus.GREEN, tolerance=60)
    assert "icc_profile" not in image.info


@pytest.mark.parametrize("kind", ["garbage", "lab"])
def test_an_unusable_icc_profile_is_ignored_not_rejected(kind: str) -> None:
    image = read_back(make_thumbnails(corpus.jpeg_with_unusable_profile(kind), SMALL)[-1])
    assert close_to(image.getpixel((60, 30)), corpus.RED)
    assert "icc_profile" not in image.info


@pytest.mark.filterwarnings("error")  # nor does it leave a warning in the logs
def test_broken_exif_is_shown_as_stored_not_rejected() -> None:
    thumbs = make_thumbnails(corpus.jpeg_with_broken_exif(), SMALL)
    image = read_back(thumbs[-1])
    assert image.size == (128, 96)
    assert close_to(image.getpixel((3, 3)), corpus.RED)
    assert b"garbage" not in thumbs[-1].body


def test_rgba_png_keeps_its_alpha_as_png() -> None:
    thumbs = make_thumbnails(corpus.rgba_png(), SMALL)
    assert {t.format for t in thumbs} == {"PNG"}
    image = read_back(thumbs[-1])
    assert thumbs[-1].extension == "png"
    assert image.mode == "RGBA"
    assert image.getpixel((5, 40))[3] == 0
    assert image.getpixel((120, 40)) == (*corpus.RED, 255)


def test_rgba_png_can_come_out_as_webp() -> None:
    thumbs = make_thumbnails(corpus.rgba_png(), ThumbnailSpec(sizes=(128,), alpha_format="WEBP"))
    image = read_back(thumbs[0])
    assert (thumbs[0].format, thumbs[0].content_type, thumbs[0].extension) == ("WEBP", "image/webp", "webp")
    assert image.mode == "RGBA"
    assert image.getpixel((5, 40))[3] == 0
    assert image.getpixel((120, 40))[3] == 255


def test_an_alpha_channel_that_is_opaque_everywhere_gives_a_jpeg() -> None:
    thumbs = make_thumbnails(corpus.rgba_png(opaque=True), SMALL)
    image = read_back(thumbs[-1])
    assert (thumbs[-1].format, image.mode) == ("JPEG", "RGB")
    assert close_to(image.getpixel((60, 40)), corpus.RED)


def test_palette_gif_with_transparency_becomes_rgba_png() -> None:
    thumbs = make_thumbnails(corpus.palette_gif_with_transparency(), SMALL)
    image = read_back(thumbs[-1])
    assert (thumbs[-1].format, image.mode) == ("PNG", "RGBA")
    assert image.getpixel((5, 40))[3] == 0
    assert image.getpixel((120, 40)) == (*corpus.RED, 255)


def test_palette_png_without_transparency_becomes_rgb_jpeg() -> None:
    image = read_back(make_thumbnails(corpus.palette_png_opaque(), SMALL)[-1])
    assert image.mode == "RGB"
    assert close_to(image.getpixel((60, 40)), corpus.BLUE)


@pytest.mark.parametrize(
    "make", [corpus.animated_gif, corpus.animated_webp, corpus.apng, corpus.mpo], ids=["gif", "webp", "apng", "mpo"]
)
def test_animated_and_multi_frame_images_give_their_first_frame(make) -> None:  # type: ignore[no-untyped-def]
    thumbs = make_thumbnails(make(), SMALL)
    assert len(thumbs) == 2
    image = read_back(thumbs[-1])
    assert thumbs[-1].format == "JPEG"
    assert close_to(image.getpixel((image.width // 2, image.height // 2)), corpus.RED)


def test_16_bit_grey_png_maps_to_a_gradient_not_to_white() -> None:
    image = read_back(make_thumbnails(corpus.gray16_png(), SMALL)[-1])
    assert image.mode == "L"
    row = [image.getpixel((x, image.height // 2)) for x in range(image.width)]
    assert row[0] <= 10
    assert row[-1] >= 245
    assert close_to(row[len(row) // 2], 128, tolerance=12)
    assert all(b >= a - 3 for a, b in itertools.pairwise(row))  # rising (JPEG may wobble slightly)


def test_16_bit_rgb_png_keeps_its_colours() -> None:
    image = read_back(make_thumbnails(corpus.rgb16_png(), SMALL)[-1])
    y = image.height // 2
    assert close_to(image.getpixel((2, y)), (0, 0, 128), tolerance=20)
    assert close_to(image.getpixel((image.width - 3, y)), (255, 0, 128), tolerance=20)


TIFF = ThumbnailSpec(sizes=(128,), allowed_formats=frozenset({"TIFF"}))


def grey_row(image: Image.Image) -> list[int]:
    return [image.getpixel((x, image.height // 2)) for x in (0, image.width // 2, image.width - 1)]


def test_16_bit_tiff_is_scaled_when_tiff_is_allowed() -> None:
    source = Image.open(io.BytesIO(corpus.gray16_png(width=300)))
    image = read_back(make_thumbnails(corpus.encode(source, "TIFF"), TIFF)[0])
    low, middle, high = grey_row(image)
    assert low <= 10 and close_to(middle, 128, tolerance=12) and high >= 245


@pytest.mark.parametrize(
    ("mode", "first", "last"),
    [
        ("I", -70000, 130000),  # signed 32-bit beyond 16 bits: stretched over its own range
        ("I", 0, 65535),  # 16-bit samples held in "I": scaled as 16-bit
        ("F", 0.0, 1.0),  # float 0..1
        ("F", -5.0, 5.0),  # float elsewhere: stretched
    ],
)
def test_32_bit_and_float_grey_are_scaled_to_8_bits(mode: str, first: float, last: float) -> None:
    width = 256
    step = (last - first) / (width - 1)
    samples = [first + step * x for x in range(width)]
    if mode == "I":
        samples = [round(v) for v in samples]
    image = read_back(make_thumbnails(corpus.deep_grey_tiff(mode, samples), TIFF)[0])
    low, middle, high = grey_row(image)
    assert low <= 10 and close_to(middle, 128, tolerance=12) and high >= 245


def test_la_png_keeps_its_alpha() -> None:
    image = read_back(make_thumbnails(corpus.la_png(), SMALL)[-1])
    assert image.mode == "LA"
    assert image.getpixel((5, 40))[1] == 0
    assert image.getpixel((120, 40)) == (200, 255)


def test_a_bilevel_image_becomes_greyscale() -> None:
    thumbs = make_thumbnails(corpus.bilevel_png(), SMALL)
    image = read_back(thumbs[-1])
    assert (thumbs[-1].format, image.mode) == ("JPEG", "L")
    assert image.getpixel((5, 40)) <= 10
    assert image.getpixel((120, 40)) >= 245


def jpeg_segments(data: bytes) -> list[int]:
    """The marker bytes of a JPEG's header segments, up to the scan."""
    markers, at = [], 2
    while at < len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan
            break
        at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    return markers


def png_chunks(data: bytes) -> list[bytes]:
    chunks, at = [], 8
    while at < len(data):
        length = struct.unpack(">I", data[at : at + 4])[0]
        chunks.append(data[at + 4 : at + 8])
        at += 12 + length
    return chunks


def test_jpeg_metadata_is_stripped() -> None:
    source = corpus.jpeg_with_gps_and_icc()
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(0x8825)  # the source does have GPS
    for thumb in make_thumbnails(source):
        image = read_back(thumb)
        assert not image.getexif()
        assert not {"exif", "icc_profile", "comment"} & set(image.info)
        markers = jpeg_segments(thumb.body)
        assert 0xDA in markers
        assert not [m for m in markers if 0xE1 <= m <= 0xEF or m == 0xFE]  # APP1..APP15, COM
        assert b"GPS" not in thumb.body and b"Exif" not in thumb.body


def test_png_metadata_is_stripped() -> None:
    for thumb in make_thumbnails(corpus.png_with_metadata()):
        assert thumb.format == "PNG"
        image = read_back(thumb)
        assert not image.getexif()
        assert set(png_chunks(thumb.body)) <= {b"IHDR", b"IDAT", b"IEND"}


def test_thumbnail_key_keeps_sources_with_the_same_stem_apart() -> None:
    jpg, png = make_thumbnails(corpus.photo_4000x3000(), SMALL)[0], make_thumbnails(corpus.rgba_png(), SMALL)[0]
    assert thumbnail_key("uploads/cat.jpg", jpg) == "thumbnails/uploads/cat.jpg/64.jpg"
    assert thumbnail_key("uploads/cat.png", png, prefix="t/") == "t/uploads/cat.png/64.png"


# --- issue 10 ---


@pytest.mark.parametrize(
    "make",
    [
        lambda: corpus.colour_keyed_png("1"),
        lambda: corpus.colour_keyed_png("L"),
        lambda: corpus.colour_keyed_png("RGB"),
        lambda: corpus.colour_keyed_png("I;16"),
        lambda: corpus.low_bit_grey_png_with_key(2),  # key in 2-bit units, samples decoded to 0..255
        lambda: corpus.low_bit_grey_png_with_key(4),
        corpus.rgb16_png_with_key,  # key in 16-bit units, samples decoded to 8 bits
    ],
    ids=["1", "L", "RGB", "I;16", "L 2-bit", "L 4-bit", "RGB 16-bit"],
)
def test_a_colour_key_becomes_alpha_in_every_mode(make) -> None:  # type: ignore[no-untyped-def]
    thumbs = make_thumbnails(make(), SMALL)
    assert {t.format for t in thumbs} == {"PNG"}
    image = read_back(thumbs[-1])
    assert image.mode in ("LA", "RGBA")
    assert image.getchannel("A").getpixel((5, 40)) == 0  # the key colour's half
    assert image.getchannel("A").getpixel((120, 40)) == 255


def test_a_colour_key_on_16_bit_grey_keeps_the_16_bit_mapping() -> None:
    image = read_back(make_thumbnails(corpus.colour_keyed_png("I;16"), SMALL)[-1])
    assert close_to(image.getpixel((120, 40))[0], 60000 * 255 // 65535, tolerance=2)


@pytest.mark.parametrize(
    ("mode", "fmt"), [("I;16", "PNG"), ("I;16B", "TIFF"), ("I", "TIFF")], ids=["I;16 png", "I;16B tiff", "I tiff"]
)
@pytest.mark.parametrize("top", [255, 65535], ids=["8-bit data", "16-bit data"])
def test_deep_grey_maps_8_bit_data_as_8_bit_and_16_bit_data_as_16_bit(mode: str, fmt: str, top: int) -> None:
    source = corpus.grey_ramp(mode, top)
    data = corpus.encode(source, fmt)
    assert Image.open(io.BytesIO(data)).mode == mode
    spec = ThumbnailSpec(sizes=(128,), allowed_formats=frozenset({fmt}))
    image = read_back(make_thumbnails(data, spec)[0])
    low, middle, high = grey_row(image)
    # 0..255 held in 16 bits was mapped from 0..65535: a ramp from 0 to 1, all black.
    assert low <= 10 and close_to(middle, 128, tolerance=12) and high >= 245


def colour_error(thumb: Thumbnail, source: Image.Image) -> float:
    """Mean absolute difference (0..255, averaged over R, G, B) from a LANCZOS resize of the source."""
    image = read_back(thumb).convert("RGB")
    reference = source.resize(image.size, Image.Resampling.LANCZOS)
    return sum(ImageStat.Stat(ImageChops.difference(image, reference)).mean) / 3


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "palette PNG"])
def test_graphics_keep_sharp_colour_edges(fmt: str) -> None:
    source = corpus.stripes()
    data = corpus.encode(source.convert("P"), "PNG") if fmt == "palette PNG" else corpus.encode(source, fmt)
    for thumb in make_thumbnails(data):
        assert thumb.format == "JPEG"
        assert JpegImagePlugin.get_sampling(read_back(thumb)) == 0  # 4:4:4
        # 4:2:0 gave 23 / 13 / 7 (128 / 256 / 512 px); 4:4:4 gives 2.7 / 2.3 / 1.1. The
        # bound is what quantisation alone leaves on a photo at this quality (2.4-4.0).
        assert colour_error(thumb, source) < 4.0


def test_photos_keep_4_2_0_except_in_small_thumbnails() -> None:
    thumbs = make_thumbnails(corpus.photo_4000x3000())
    assert [JpegImagePlugin.get_sampling(read_back(t)) for t in thumbs] == [0, 2, 2]  # 128 px: 4:4:4


def test_graphics_with_alpha_are_lossless_in_webp() -> None:
    source = corpus.stripes().convert("RGBA")
    source.paste((0, 0, 0, 0), (0, 0, 100, 100))
    thumbs = make_thumbnails(corpus.encode(source, "PNG"), ThumbnailSpec(alpha_format="WEBP"))
    for thumb in thumbs:
        assert thumb.format == "WEBP"
        assert colour_error(thumb, source.convert("RGB")) < 4.0  # lossy WebP (always 4:2:0): 6.8-24


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("size", [(20000, 10), (10, 20000), (4001, 7)], ids=["wide", "tall", "odd"])
def test_thin_panoramas_keep_their_brightness(fmt: str, size: tuple[int, int]) -> None:
    data = corpus.panorama(*size, fmt)
    with Image.open(io.BytesIO(data)) as source:
        expected = ImageStat.Stat(source.convert("L")).mean[0]
    for thumb in make_thumbnails(data):
        mean = ImageStat.Stat(read_back(thumb).convert("L")).mean[0]
        # Was 138 (PNG) and 171 (JPEG) for 127.4: a partial last block weighed as a full one.
        assert abs(mean - expected) <= 2.6, (thumb.size, mean, expected)  # _MAX_PADDING_SHARE of 255


def test_an_animated_webp_canvas_that_no_frame_covers_is_transparent() -> None:
    data = corpus.animated_webp_with_transparent_canvas()
    assert Image.open(io.BytesIO(data)).mode == "RGB"  # what Pillow makes of the unset ALPHA flag
    image = read_back(make_thumbnails(data, SMALL)[-1])
    assert image.mode == "RGBA"
    assert image.getpixel((5, 40))[3] == 0
    assert image.getpixel((120, 40)) == (*corpus.RED, 255)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"], ids=["gif", "apng", "webp"])
def test_an_animation_whose_first_frame_is_transparent_keeps_it(fmt: str) -> None:
    thumbs = make_thumbnails(corpus.animated_with_transparent_first_frame(fmt), SMALL)
    image = read_back(thumbs[-1])
    assert (thumbs[-1].format, image.mode) == ("PNG", "RGBA")
    assert image.getpixel((5, 40))[3] == 0
    assert image.getpixel((120, 40)) == (*corpus.RED, 255)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
@pytest.mark.parametrize(("orientation", "transparent_corner"), [(1, "bottom_left"), (6, "top_left"), (3, "top_right")])
def test_exif_orientation_turns_the_alpha_with_the_colours(fmt: str, orientation: int, transparent_corner: str) -> None:
    image = read_back(make_thumbnails(corpus.alpha_with_orientation(fmt, orientation), SMALL)[-1])
    assert image.mode == "RGBA"
    w, h = image.size
    corners = {"top_left": (3, 3), "top_right": (w - 4, 3), "bottom_left": (3, h - 4), "bottom_right": (w - 4, h - 4)}
    for name, xy in corners.items():
        assert (image.getpixel(xy)[3] == 0) == (name == transparent_corner), name


def test_grey_with_associated_alpha_is_kept_when_tiff_is_allowed() -> None:
    data = corpus.grey_tiff_with_associated_alpha()
    assert Image.open(io.BytesIO(data)).mode == "La"  # Pillow converts it to LA, not to RGBA
    image = read_back(make_thumbnails(data, TIFF)[0])
    assert image.mode == "LA"
    assert image.getpixel((5, 40))[1] == 0
    assert image.getpixel((120, 40)) == (200, 255)
