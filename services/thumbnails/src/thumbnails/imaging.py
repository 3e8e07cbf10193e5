"""Thumbnails from untrusted image bytes: pure Pillow, no AWS.

Every input ends in thumbnails or in an :class:`ImageRejected` whose ``reason`` says why,
and a rejection is final (retrying the same bytes gives the same answer). Any other
exception is a bug or a transient failure, which the caller may retry.

    >>> spec = ThumbnailSpec(sizes=(128, 256, 512))
    >>> check_source_size(head_object["ContentLength"], spec)   # before the download
    >>> thumbs = make_thumbnails(body, spec)
    >>> [(t.size, t.width, t.height, t.format) for t in thumbs]  # a 4000x3000 photo
    [(128, 128, 96, 'JPEG'), (256, 256, 192, 'JPEG'), (512, 512, 384, 'JPEG')]

The pipeline decodes once: a JPEG is decoded by libjpeg at the smallest 1/2, 1/4 or 1/8
scale that still covers the largest size; the image is resized to the largest size,
colour-managed to sRGB, turned upright by its EXIF orientation, then downscaled
successively to the smaller sizes. Outputs carry no metadata (no EXIF, GPS, ICC profile,
comment or text chunks).
"""

from __future__ import annotations

import contextlib
import enum
import io
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

from PIL import Image, ImageFile, UnidentifiedImageError

__all__ = [
    "DEFAULT_SPEC",
    "ImageRejected",
    "RejectionReason",
    "Thumbnail",
    "ThumbnailSpec",
    "check_source_size",
    "make_thumbnails",
    "thumbnail_key",
]

# Pillow format names accepted by default. TIFF and AVIF are off: browsers and phones do
# not upload TIFF, and libtiff (many codecs, multi-page, huge strips) is the widest attack
# surface among Pillow's decoders. Both can be switched on per spec.
DEFAULT_ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP"})
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "TIFF", "AVIF"})

_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}

_EXIF_ORIENTATION = 0x0112
# EXIF orientation -> the transpose that displays the stored pixels upright (as ImageOps.exif_transpose).
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Exceptions Pillow's decoders raise on malformed input (they are not transient).
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error, IndexError)


class RejectionReason(enum.StrEnum):
    """Why an upload gets no thumbnail. Stable codes: they go into events and metrics."""

    NOT_AN_IMAGE = "not_an_image"
    FORMAT_NOT_ALLOWED = "format_not_allowed"
    TOO_LARGE_BYTES = "too_large_bytes"
    TOO_MANY_PIXELS = "too_many_pixels"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"


class ImageRejected(Exception):
    """A final rejection of the source: the same bytes will always be rejected."""

    def __init__(self, reason: RejectionReason | str, message: str) -> None:
        self.reason = RejectionReason(reason)
        self.message = message
        super().__init__(f"{self.reason}: {message}")

    @property
    def reason_code(self) -> str:
        return self.reason.value


@dataclass(frozen=True)
class ThumbnailSpec:
    """What to produce and what to accept.

    sizes: long side in pixels of each output (never upscaled; see make_thumbnails).
    max_pixels: decompression-bomb limit on width x height, checked from the header before
        any pixel is decoded. At most Pillow's own Image.MAX_IMAGE_PIXELS, whose warning we
        turn into the same rejection.
    alpha_format: "PNG" (lossless, universal) or "WEBP" (smaller) for outputs with alpha.
    resample: the downscaling filter. BICUBIC is Pillow's thumbnail() default.
    draft_resample: the filter for the step right after a JPEG draft decode. libjpeg's DCT
        scaling did most of the reduction (and antialiases well): what is left is under 2x
        unless the photo is wider than 8x the size. There BILINEAR measured as good as
        BICUBIC or LANCZOS once the JPEG is encoded, and faster (bench.py prints it).
    """

    sizes: tuple[int, ...] = (128, 256, 512)
    jpeg_quality: int = 82
    webp_quality: int = 80
    max_source_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000
    allowed_formats: frozenset[str] = field(default=DEFAULT_ALLOWED_FORMATS)
    alpha_format: str = "PNG"
    resample: Image.Resampling = Image.Resampling.BICUBIC
    draft_resample: Image.Resampling = Image.Resampling.BILINEAR

    def __post_init__(self) -> None:
        sizes = tuple(self.sizes)
        if not sizes or any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sizes):
            raise ValueError(f"sizes must be positive integers, got {self.sizes!r}")
        object.__setattr__(self, "sizes", tuple(sorted(set(sizes))))
        formats = frozenset(f.upper() for f in self.allowed_formats)
        if not formats or not formats <= SUPPORTED_FORMATS:
            raise ValueError(f"allowed_formats must be a non-empty subset of {sorted(SUPPORTED_FORMATS)}")
        object.__setattr__(self, "allowed_formats", formats)
        for name in ("jpeg_quality", "webp_quality"):
            if not 1 <= getattr(self, name) <= 100:
                raise ValueError(f"{name} must be within 1..100")
        if self.max_source_bytes < 1:
            raise ValueError("max_source_bytes must be positive")
        pillow_limit = Image.MAX_IMAGE_PIXELS
        if self.max_pixels < 1 or (pillow_limit is not None and self.max_pixels > pillow_limit):
            raise ValueError(f"max_pixels must be within 1..{pillow_limit} (Pillow's MAX_IMAGE_PIXELS)")
        if self.alpha_format not in ("PNG", "WEBP"):
            raise ValueError("alpha_format must be 'PNG' or 'WEBP'")
        for name in ("resample", "draft_resample"):
            value = Image.Resampling(getattr(self, name))
            if value == Image.Resampling.NEAREST:
                raise ValueError(f"{name} must be a filter that antialiases (not NEAREST)")
            object.__setattr__(self, name, value)

    @property
    def pillow_formats(self) -> tuple[str, ...]:
        """The Pillow plugins to try when opening. JPEG's also opens multi-picture JPEGs
        (phones write them; Pillow calls their format MPO)."""
        return tuple(sorted(self.allowed_formats))


DEFAULT_SPEC = ThumbnailSpec()


@dataclass(frozen=True)
class Thumbnail:
    """One encoded output. ``size`` is the requested long side; width/height are actual."""

    size: int
    width: int
    height: int
    format: str
    body: bytes = field(repr=False)

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.format]

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.format]

    @property
    def key_suffix(self) -> str:
        """E.g. ``"256.jpg"``: unique per size, the extension telling the format."""
        return f"{self.size}.{self.extension}"


def thumbnail_key(source_key: str, thumbnail: Thumbnail, prefix: str = "thumbnails/") -> str:
    """``thumbnails/<source key>/<size>.<ext>``: keeps photo.jpg and photo.png apart."""
    return f"{prefix}{source_key}/{thumbnail.key_suffix}"


def check_source_size(content_length: int, spec: ThumbnailSpec = DEFAULT_SPEC) -> None:
    """Reject by the object's size (from HeadObject) before downloading it."""
    if content_length > spec.max_source_bytes:
        raise ImageRejected(
            RejectionReason.TOO_LARGE_BYTES,
            f"{content_length} bytes exceeds the limit of {spec.max_source_bytes} bytes",
        )
    if content_length <= 0:
        raise ImageRejected(RejectionReason.NOT_AN_IMAGE, "the object is empty")


def make_thumbnails(data: bytes, spec: ThumbnailSpec = DEFAULT_SPEC) -> list[Thumbnail]:
    """Decode ``data`` once and return one thumbnail per ``spec.sizes``, smallest first.

    An image smaller than a size is not upscaled: that output has the source's dimensions
    (so every configured size always has an object; identical outputs share one encode).
    Raises ImageRejected for final rejections.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # With it set, Pillow pads truncated files with grey and we would publish them.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must be False for thumbnails")
    check_source_size(len(data), spec)
    with _bomb_is_rejection():
        image = _open(data, spec)
        try:
            return _render(image, spec)
        finally:
            image.close()


@contextlib.contextmanager
def _bomb_is_rejection() -> Iterator[None]:
    """Pillow's DecompressionBombWarning/Error -> ImageRejected, without touching its globals.

    catch_warnings restores the warning filters on exit (Lambda runs one event at a time
    per process, so the process-wide filter change is not seen by anything else).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(RejectionReason.TOO_MANY_PIXELS, str(exc)) from exc


def _open(data: bytes, spec: ThumbnailSpec) -> ImageFile.ImageFile:
    """Parse the header only (no pixels yet) with the allowed decoders, then check the size."""
    try:
        with warnings.catch_warnings():
            # Pillow warns (UserWarning) about odd metadata it skips, e.g. corrupt EXIF: not
            # worth a log line per upload. Its bomb warning is a RuntimeWarning, still an error.
            warnings.simplefilter("ignore", UserWarning)
            image = Image.open(io.BytesIO(data), formats=spec.pillow_formats)
    except UnidentifiedImageError:
        raise _why_unreadable(data, spec) from None
    except _DECODE_ERRORS as exc:
        raise ImageRejected(RejectionReason.CORRUPT, f"unreadable header: {exc}") from exc
    width, height = image.size
    if width < 1 or height < 1:
        image.close()
        raise ImageRejected(RejectionReason.CORRUPT, f"invalid dimensions {width}x{height}")
    if width * height > spec.max_pixels:
        image.close()
        raise ImageRejected(
            RejectionReason.TOO_MANY_PIXELS,
            f"{width}x{height} = {width * height} pixels exceeds the limit of {spec.max_pixels}",
        )
    return image


def _why_unreadable(data: bytes, spec: ThumbnailSpec) -> ImageRejected:
    """No allowed decoder took the bytes: a broken allowed file, another format, or no image."""
    if not data:
        return ImageRejected(RejectionReason.NOT_AN_IMAGE, "the object is empty")
    prefix = data[:16]
    for name in spec.pillow_formats:
        accept = Image.OPEN[name][1]
        verdict = accept(prefix) if accept is not None else False
        if verdict and not isinstance(verdict, str):
            return ImageRejected(RejectionReason.CORRUPT, f"has a {name} signature but its header is unreadable")
    # Identify with every plugin, header only: the format's name makes the rejection clear.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as other:
                found = other.format
    except Image.DecompressionBombError:
        found = "an image format"
    except Exception:  # whatever fails to identify is "not an image", never a retry
        return ImageRejected(RejectionReason.NOT_AN_IMAGE, "not a recognised image format")
    allowed = ", ".join(sorted(spec.allowed_formats))
    return ImageRejected(RejectionReason.FORMAT_NOT_ALLOWED, f"{found} is not allowed (allowed: {allowed})")


def _fit(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Dimensions with the long side at most ``long_side``, aspect kept; never upscaled."""
    longest = max(width, height)
    if longest <= long_side:
        return width, height
    scale = long_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _render(image: ImageFile.ImageFile, spec: ThumbnailSpec) -> list[Thumbnail]:
    source_size = image.size  # as stored, before any EXIF rotation
    largest = _fit(*source_size, spec.sizes[-1])
    drafted = image.format in ("JPEG", "MPO")
    if drafted:
        # libjpeg decodes at the smallest 1/1..1/8 scale still >= the box. The box has the
        # stored aspect, so a 90-degree EXIF rotation (applied later) changes nothing here.
        image.draft("RGB", largest)
    try:
        image.load()  # the only full decode; animated images load their first frame
    except _DECODE_ERRORS as exc:
        reason = RejectionReason.TRUNCATED if "truncated" in str(exc).lower() else RejectionReason.CORRUPT
        raise ImageRejected(reason, f"{image.format} decode failed: {exc}") from exc

    icc_profile = image.info.get("icc_profile") or None
    orientation = _orientation(image)
    deep_range = _deep_grey_range(image)
    # High-bit-depth grey is resized at full precision and mapped to 8 bits afterwards: the
    # mapping then costs the small image, not three full-size 32-bit copies.
    working = image if deep_range else _to_working_mode(image)
    if working.size != largest:
        # reducing_gap: a box reduce() by an integer factor first when the ratio is large
        # (big PNGs), then the filter over the last >= 3x: visually the same, much less work.
        # Pillow's reduce() has no 16-bit modes; those get the filter alone.
        gap = None if working.mode in _UNSIGNED_16 else 3.0
        first_filter = spec.draft_resample if drafted else spec.resample
        working = working.resize(largest, first_filter, reducing_gap=gap)
    if deep_range:
        working = _scale_to_l(working, *deep_range)
    working = _to_srgb(working, icc_profile)
    working = _drop_opaque_alpha(working)
    if orientation in _ORIENTATION_TRANSPOSE:
        working = working.transpose(_ORIENTATION_TRANSPOSE[orientation])
    if orientation in (5, 6, 7, 8):
        # The smaller targets are computed from the displayed source size, not from the
        # rounded larger output: a 4000x3000 source gives exactly 512x384/256x192/128x96.
        source_size = source_size[::-1]
    working.info = {}  # see _encode

    out_format = spec.alpha_format if working.mode in ("LA", "RGBA") else "JPEG"
    thumbnails: list[Thumbnail] = []
    encoded: dict[tuple[int, int], bytes] = {}
    for size in reversed(spec.sizes):
        target = _fit(*source_size, size)
        if target != working.size:
            working = working.resize(target, spec.resample)  # from the previous output: less work each time
        if target not in encoded:
            encoded[target] = _encode(working, out_format, spec)
        thumbnails.append(Thumbnail(size, target[0], target[1], out_format, encoded[target]))
    thumbnails.reverse()
    return thumbnails


def _orientation(image: Image.Image) -> int:
    # A broken EXIF block is no reason to reject a photo: it is shown as stored, and Pillow's
    # "Corrupt EXIF data" warning is not worth a log line per upload.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except _DECODE_ERRORS:
        return 1
    return value if isinstance(value, int) else 1


def _to_working_mode(image: Image.Image) -> Image.Image:
    """Normalise 8-bit modes to L, LA, RGB, RGBA or CMYK: what resize() filters and we encode."""
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    # YCbCr, LAB, HSV, RGBX, La, RGBa ... (TIFF can hold them): let Pillow convert, keeping alpha.
    bands = image.getbands()
    try:
        return image.convert("RGBA" if "A" in bands or "a" in bands else "RGB")
    except ValueError as exc:  # a mode Pillow decodes but cannot convert: the same every time
        raise ImageRejected(RejectionReason.FORMAT_NOT_ALLOWED, f"pixel mode {mode} is not supported") from exc


_UNSIGNED_16 = ("I;16", "I;16L", "I;16B", "I;16N")


def _deep_grey_range(image: Image.Image) -> tuple[float, float] | None:
    """The sample range to map onto 0..255 for 16-bit, 32-bit and float grey; None otherwise."""
    if image.mode in _UNSIGNED_16:
        return 0, 65535
    if image.mode not in ("I", "F"):
        return None
    low, high = image.getextrema()
    if image.mode == "I" and low >= 0 and high <= 65535:
        return 0, 65535  # several decoders keep 16-bit samples in "I": scale them as such
    if image.mode == "F" and low >= 0.0 and high <= 1.0:
        return 0.0, 1.0
    return low, high  # signed or 32-bit data: stretch over its own range


def _scale_to_l(image: Image.Image, low: float, high: float) -> Image.Image:
    """Map [low, high] linearly onto 0..255 (Pillow's own I;16/I -> L conversion clips at 255)."""
    if image.mode in _UNSIGNED_16:
        image = image.convert("I")
    scale = 255 / ((high - low) or 1)
    offset = -low * scale
    return image.point(lambda v: v * scale + offset).convert("L")


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Convert to sRGB through the embedded ICC profile; without one, CMYK gets Pillow's formula.

    The profile itself is dropped from the output (sRGB is what untagged images mean).
    A profile lcms cannot use is ignored rather than rejected: the pixels are still fine.
    """
    if icc_profile and image.mode in ("RGB", "RGBA", "CMYK"):
        converted = _apply_profile(image, icc_profile)
        if converted is not None:
            return converted
    if image.mode == "CMYK":
        return image.convert("RGB")
    return image


def _apply_profile(image: Image.Image, icc_profile: bytes) -> Image.Image | None:
    from PIL import ImageCms  # lazy: only images with a profile pay for lcms

    alpha = image.getchannel("A") if image.mode == "RGBA" else None
    colour = image.convert("RGB") if alpha is not None else image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if source.profile.xcolor_space.strip() != colour.mode:
            return None  # e.g. a grey or CMYK profile on RGB pixels: the tag is wrong
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        converted = ImageCms.profileToProfile(colour, source, srgb, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    assert converted is not None  # inPlace=False always returns the new image
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def _drop_opaque_alpha(image: Image.Image) -> Image.Image:
    """An alpha channel that is 255 everywhere carries nothing: encode such images as JPEG."""
    if image.mode in ("LA", "RGBA") and image.getchannel("A").getextrema() == (255, 255):
        return image.convert(image.mode[:-1])
    return image


def _encode(image: Image.Image, out_format: str, spec: ThumbnailSpec) -> bytes:
    # The caller cleared image.info: Pillow's encoders fall back to im.info for the ICC
    # profile, JPEG comment, PNG transparency ..., and no source metadata may reach a thumbnail.
    assert not image.info, "source metadata would leak into the thumbnail"
    buffer = io.BytesIO()
    if out_format == "JPEG":
        # Baseline, optimised Huffman tables: at thumbnail sizes progressive saves nothing.
        image.save(buffer, "JPEG", quality=spec.jpeg_quality, optimize=True)
    elif out_format == "PNG":
        image.save(buffer, "PNG", optimize=True)
    else:
        image.save(buffer, "WEBP", quality=spec.webp_quality, method=4)
    return buffer.getvalue()
