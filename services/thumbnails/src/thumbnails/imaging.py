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
scale that covers the largest size (or falls short of it by at most 3%); the image is
resized to the largest size, colour-managed to sRGB, turned upright by its EXIF
orientation, then downscaled successively to the smaller sizes. Outputs carry no metadata
(no EXIF, GPS, ICC profile, comment or text chunks).
"""

from __future__ import annotations

import contextlib
import enum
import io
import struct
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from PIL import Image, ImageFile, ImageMath, UnidentifiedImageError

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

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the last chunk, always these 12 bytes

# A reduced decode (JPEG draft) or a box reduce() by a factor that does not divide the
# side leaves a last pixel that stands for fewer source pixels than the others (padding
# for libjpeg, a partial block for reduce()), yet the next resize weighs it as a full one.
# On a 20000x10 panorama that is most of the image: the thumbnail came out 10-45 levels
# too bright. A factor is used only if that over-weight is at most 1% of the side, which
# bounds the error of the mean at 1% of the range (2.6 of 255); a large image loses
# nothing (4001 px at 1/4: 0.07%), a thin one gets a smaller factor.
_MAX_PADDING_SHARE = 0.01
_REDUCING_GAP = 3.0  # reduce() down to at least 3x the target, then the filter (Pillow's reducing_gap)

# A JPEG draft may decode slightly smaller than the largest output (then enlarged by at most
# 3%). libjpeg's 1/8 scale is the 8x8 block average (the DC coefficient), a proper area
# reduction; the next scale up decodes 4x the pixels, then shrinks them by almost 2. For a
# 12 MP photo (4000 or 4032 px wide, the phone size) to 512 px, 1/8 gives 500 or 504 px:
# PSNR 0.04-0.09 dB lower at 512 px, nothing at 256 and 128, and 14-19% less time (bench.py).
# At 3.1% short the loss reaches 0.10 dB, at 7% 0.47 dB: hence 97%.
_DRAFT_COVER = 0.97

# JPEG chroma subsampling. 4:2:0 halves the colour resolution, which photos do not show but
# graphics do: sharp red/blue edges came out with a mean error of 7-23 levels (up to 62 with
# narrow stripes) against 1.1-2.7 with 4:4:4. Full-resolution chroma is used for palette
# sources, sources with few colours, and every output whose long side is at most
# _FULL_CHROMA_UP_TO px (there a photo's PSNR goes from 29.5 to 34.4 dB for 1.1 kB more).
_FULL_CHROMA_UP_TO = 128
_FEW_COLOURS = 256
_COLOUR_SAMPLE = 256  # px: the colour count reads a nearest-neighbour sample, not every pixel

# PNG: zlib level 6 (its default) with the default strategy and with Z_RLE (runs only,
# distance 1), keeping the smaller. optimize=True (level 9) took 2.2-6.3x the time (a
# 1200x900 product cut-out's three outputs: 521 against 83 ms) for at most 2.7% fewer bytes,
# and more bytes on half the sources; Z_RLE alone is the fastest and beats level 9 on
# photographic alpha, but is 17% larger on text, whose repeats are far apart. bench.py.
_PNG_STRATEGIES = (0, 3)  # zlib's Z_DEFAULT_STRATEGY, Z_RLE (Pillow's compress_type)


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
        BICUBIC or LANCZOS once the JPEG is encoded, and faster (bench.py prints it). A
        draft that fell just short of the size (see _DRAFT_COVER) is enlarged with resample.
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
            return _render(image, data, spec)
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
        # An allowed plugin took the file and then failed on its header (libwebp, for one,
        # parses the whole file when the image is opened).
        raise _broken(data, _signature(data, spec.pillow_formats) or "image", "unreadable header", exc) from exc
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
    """No allowed decoder took the bytes: a broken allowed file, another format, or no image.

    Other formats are named from their signature only: they are never opened. Opening is
    not just reading a header for all of Pillow's plugins (ICO decodes its largest frame
    inside Image.open: an ICO around a 12000x12000 PNG was decoded in full just to name it).
    """
    if not data:
        return ImageRejected(RejectionReason.NOT_AN_IMAGE, "the object is empty")
    allowed = _signature(data, spec.pillow_formats)
    if allowed:
        return _broken(data, allowed, "unreadable header", None)
    found = _signature(data, Image.ID, decodable_only=False)
    if found is None:  # includes formats without a signature (TGA): no telling them from noise
        return ImageRejected(RejectionReason.NOT_AN_IMAGE, "not a recognised image format")
    if found in spec.allowed_formats:  # e.g. a Pillow built without libwebp: a deployment bug, not the upload's
        raise RuntimeError(f"{found} is allowed but this Pillow build cannot decode it")
    names = ", ".join(sorted(spec.allowed_formats))
    return ImageRejected(RejectionReason.FORMAT_NOT_ALLOWED, f"{found} is not allowed (allowed: {names})")


def _signature(data: bytes, formats: Iterable[str], *, decodable_only: bool = True) -> str | None:
    """The first of ``formats`` whose signature check (Pillow's ``_accept``) takes the bytes.

    A check answers with a string for a format it recognises but this Pillow build cannot
    decode (WebP without libwebp): a match only when ``decodable_only`` is False."""
    Image.init()  # every plugin registered, as Image.open would
    prefix = data[:16]  # what Image.open gives the checks
    for name in formats:
        accept = Image.OPEN[name][1] if name in Image.OPEN else None
        try:
            verdict = accept(prefix) if accept is not None else False
        except (SyntaxError, IndexError, TypeError, ValueError, struct.error):  # as Image.open: a few bytes trip some
            verdict = False
        if verdict and not (decodable_only and isinstance(verdict, str)):
            return name
    return None


def _broken(data: bytes, fmt: str, what: str, exc: BaseException | None) -> ImageRejected:
    """An allowed format that fails to open or decode: truncated or corrupt.

    Truncated means the bytes end before the image does, whichever stage noticed (libwebp
    refuses an incomplete file when it is opened, libjpeg and zlib notice while decoding, a
    cut header fails in the plugin). It is read from the container itself where we can
    (_ends_early); Pillow's messages cannot tell a cut file from a damaged length field
    ("Truncated File Read" for both), so they decide only for the other formats (TIFF).
    Everything else is corrupt: complete but unreadable.
    """
    detail = f": {exc}" if exc is not None else ""
    ends_early = _ends_early(data, fmt)
    if ends_early is None:
        ends_early = "truncated" in str(exc or "").lower()
    if ends_early:
        return ImageRejected(RejectionReason.TRUNCATED, f"{fmt} data ends before the image does{detail}")
    return ImageRejected(RejectionReason.CORRUPT, f"{fmt} {what}{detail}")


def _ends_early(data: bytes, fmt: str) -> bool | None:
    """Whether the container says more bytes should follow (None: no structural check for
    ``fmt``). Walks headers only, no decoding. A damaged size field sends a walk past the
    end too; a second witness that the file is whole (its last chunk or marker is there, or
    for RIFF the chunks end exactly where the file does) makes that corrupt, not truncated."""
    if fmt == "PNG":  # chunks up to IEND
        at = len(_PNG_MAGIC)
        while at + 8 <= len(data):
            length, kind = struct.unpack(">I4s", data[at : at + 8])
            if kind == b"IEND":
                return False
            at += 12 + length  # length, type, payload, CRC
        return _PNG_IEND not in data  # (a cut can fall between chunks: the walk ending there proves nothing)
    if fmt == "WEBP":  # RIFF: its size (of everything after the first 8 bytes), then sized chunks
        if len(data) < 12:
            return True
        at = 12
        while at + 8 <= len(data):
            at += 8 + (size := int.from_bytes(data[at + 4 : at + 8], "little")) + (size & 1)
        return int.from_bytes(data[4:8], "little") + 8 > len(data) and at != len(data)  # past the end, or mid-header
    if fmt == "GIF":
        return not data.rstrip(b"\0").endswith(b";")  # the trailer byte ends every GIF
    if fmt in ("JPEG", "MPO"):
        return _jpeg_ends_early(data) and not data.endswith(b"\xff\xd9")
    if fmt == "AVIF":  # ISO-BMFF: a sequence of sized boxes
        at = 0
        while at + 8 <= len(data):
            size = int.from_bytes(data[at : at + 4], "big")
            if size == 1:
                size = int.from_bytes(data[at + 8 : at + 16], "big") if at + 16 <= len(data) else 16
            elif size == 0:  # the box runs to the end of the file
                return False
            if size < 8:
                return False  # nonsense: corrupt, not short
            at += size
        return at > len(data)
    return None  # TIFF: offsets point anywhere in the file


def _jpeg_ends_early(data: bytes) -> bool:
    """The marker segments run out before the first scan, or no end-of-image marker follows it
    (an EXIF thumbnail's own markers sit inside APP1, which the walk skips)."""
    at = 2  # after SOI
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return False  # not a marker where one must be: damaged, not short
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
        elif marker == 0xDA:  # start of scan: entropy-coded data up to the end marker
            return data.find(b"\xff\xd9", at) < 0
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            at += 2
        else:
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return True


def _fit(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Dimensions with the long side at most ``long_side``, aspect kept; never upscaled."""
    longest = max(width, height)
    if longest <= long_side:
        return width, height
    scale = long_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _render(image: ImageFile.ImageFile, data: bytes, spec: ThumbnailSpec) -> list[Thumbnail]:
    source_size = image.size  # as stored, before any EXIF rotation
    largest = _fit(*source_size, spec.sizes[-1])
    box = None  # the source's extent in the decoded image's pixels (a draft's last pixel may be partial)
    scale = _draft_scale(source_size, largest) if image.format in ("JPEG", "MPO") else 1
    if scale > 1:
        # libjpeg decodes at 1/scale. The box has the stored aspect, so a 90-degree EXIF
        # rotation (applied later) changes nothing here. Pillow picks the largest of 1/8,
        # 1/4, 1/2 that still covers the size asked for: asking for size // scale gives scale.
        drafted = image.draft("RGB", (source_size[0] // scale, source_size[1] // scale))
        box = drafted[1] if drafted else None
    _decode_animation_with_alpha(image, data)
    try:
        image.load()  # the only full decode; animated images load their first frame
    except _DECODE_ERRORS as exc:
        raise _broken(data, image.format or "image", "decode failed", exc) from exc

    icc_profile = image.info.get("icc_profile") or None
    orientation = _orientation(image)
    palette = image.mode in ("P", "PA")
    working, deep_range = _to_working_mode(image, data)
    # Counted before resizing (which blends new colours in); JPEG's noise makes every photo
    # and every graphic saved as JPEG "many colours", so JPEG sources are not counted.
    graphic = palette or (image.format not in ("JPEG", "MPO") and _few_colours(working))
    if working.size != largest:
        # After a draft, what is left is under 2x (libjpeg's DCT scaling low-passed the rest):
        # draft_resample. Where the draft fell just short of the size, the resize enlarges:
        # resample, which measured closer there (0.09 dB below 1/4 + BILINEAR, against 0.17).
        enlarges = working.width < largest[0] or working.height < largest[1]
        first = spec.draft_resample if scale > 1 and not enlarges else spec.resample
        working = _shrink(working, largest, first, box)
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
            full_chroma = graphic or max(target) <= _FULL_CHROMA_UP_TO
            encoded[target] = _encode(working, out_format, spec, graphic=graphic, full_chroma=full_chroma)
        thumbnails.append(Thumbnail(size, target[0], target[1], out_format, encoded[target]))
    thumbnails.reverse()
    return thumbnails


def _draft_scale(size: tuple[int, int], target: tuple[int, int]) -> int:
    """The JPEG draft scale (8, 4, 2 or 1): the largest that covers at least _DRAFT_COVER of
    ``target`` and whose padding in the last decoded pixel is a negligible share of each
    side (see _MAX_PADDING_SHARE)."""
    for scale in (8, 4, 2):
        if all(
            n // scale >= t * _DRAFT_COVER and -n % scale <= n * _MAX_PADDING_SHARE
            for n, t in zip(size, target, strict=True)
        ):
            return scale
    return 1


def _reduce_factor(pixels: int, ratio: float) -> int:
    """The box-reduce factor for one side: Pillow's reducing_gap rule, lowered until the last,
    partial block is a negligible share of the side (see _MAX_PADDING_SHARE)."""
    factor = int(ratio / _REDUCING_GAP)
    while factor > 1 and -pixels % factor > pixels * _MAX_PADDING_SHARE:
        factor -= 1
    return max(factor, 1)


def _shrink(
    image: Image.Image, size: tuple[int, int], resample: Image.Resampling, box: tuple[float, float, float, float] | None
) -> Image.Image:
    """Resize to ``size``, with a box reduce() first when the ratio is large (big PNGs): the
    filter then works on at least 3x the target, visually the same, much less work.

    ``box`` is the source's extent in ``image`` (a draft's last pixel may be partial); the
    filter maps exactly that onto the output. Pillow's reduce() has no 16-bit modes: those
    get the filter alone.
    """
    box = box or (0.0, 0.0, float(image.width), float(image.height))
    if image.mode not in _UNSIGNED_16:
        factors = (
            _reduce_factor(image.width, (box[2] - box[0]) / size[0]),
            _reduce_factor(image.height, (box[3] - box[1]) / size[1]),
        )
        if factors != (1, 1):
            image = image.reduce(factors)
            box = (box[0] / factors[0], box[1] / factors[1], box[2] / factors[0], box[3] / factors[1])
    return image.resize(size, resample, box=box)


def _decode_animation_with_alpha(image: ImageFile.ImageFile, data: bytes) -> None:
    """An animated WebP's canvas starts transparent (libwebp zero-fills it; browsers show what
    no frame covers as transparent), but Pillow decodes it as opaque RGB whenever the file's
    ALPHA flag is unset, which libwebp's own animation encoder leaves unset when no frame
    needs an alpha channel: the uncovered area came out black. Decode such canvases as RGBA;
    one that is opaque everywhere loses its alpha again later (_drop_opaque_alpha)."""
    animated = data[12:16] == b"VP8X" and len(data) > 20 and data[20] & 0x02  # VP8X flags: ANIMATION
    if image.format == "WEBP" and image.mode == "RGB" and animated and getattr(image, "rawmode", None) == "RGBX":
        # WebPImageFile.load() decodes with self.rawmode; libwebp's canvas is RGBA either way.
        image.rawmode = "RGBA"
        image._mode = "RGBA"


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


def _to_working_mode(image: Image.Image, data: bytes) -> tuple[Image.Image, tuple[float, float] | None]:
    """Normalise to L, LA, RGB, RGBA or CMYK (what resize() filters and we encode), or leave
    deep grey (16-bit, 32-bit, float) as it is with the range to map onto 0..255 after resizing.

    A colour key (PNG tRNS, GIF transparent index; ``info["transparency"]``) becomes an
    alpha channel in every mode that can carry one, not just P.
    """
    key = image.info.get("transparency")
    if image.mode in _UNSIGNED_16 and image.mode != "I;16":
        # I;16B (big-endian TIFF, "MM") and I;16N: Pillow's resize() reads their bytes in the
        # wrong order (a ramp came out as noise) and getextrema() refuses them. Pillow's direct
        # conversion to I;16 clips at 255, so go through I, by strips (I is 4 bytes a pixel).
        image = _by_strips(image, "I;16", lambda strip: strip.convert("I").convert("I;16"))
    mode = image.mode
    deep_range = _deep_grey_range(image)
    if deep_range:
        if not isinstance(key, int):
            return image, deep_range  # high-bit-depth grey is resized at full precision
        # Pillow's own I;16 -> LA compares the key with samples already clipped to 8 bits (a
        # key of 1000 matched nothing). Map and mask at full size instead, by strips.
        grey = _by_strips(image, "L", lambda strip: _scale_to_l(strip, *deep_range))
        grey.putalpha(_by_strips(image, "L", lambda strip: _key_mask(strip, key)))
        return grey, None
    if key is not None and mode in ("1", "L", "RGB"):
        image.info["transparency"] = _key_in_decoded_samples(key, mode, data)
        return image.convert("RGBA" if mode == "RGB" else "LA"), None  # Pillow turns the key into alpha
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return image, None
    if mode == "1":
        return image.convert("L"), None
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or key is not None
        return image.convert("RGBA" if has_alpha else "RGB"), None
    if mode == "La":  # TIFF grey with associated alpha: Pillow converts it to LA only
        return image.convert("LA"), None
    # YCbCr, LAB, HSV, RGBX, RGBa ... (TIFF can hold them): let Pillow convert, keeping alpha.
    bands = image.getbands()
    try:
        return image.convert("RGBA" if "A" in bands or "a" in bands else "RGB"), None
    except ValueError as exc:  # a mode Pillow decodes but cannot convert: the same every time
        raise ImageRejected(RejectionReason.FORMAT_NOT_ALLOWED, f"pixel mode {mode} is not supported") from exc


def _key_in_decoded_samples(key: int | tuple[int, ...], mode: str, data: bytes) -> int | tuple[int, ...]:
    """A PNG's tRNS key is in the file's bit depth, which Pillow does not convert: 2- and
    4-bit grey are scaled up to 0..255 when decoded (so the key 3 of a 2-bit image is 255),
    16-bit RGB keeps the high byte of each sample."""
    if data[:8] != _PNG_MAGIC or data[12:16] != b"IHDR":
        return key
    bit_depth = data[24]
    if mode == "L" and isinstance(key, int) and bit_depth in (2, 4):
        return key * 255 // (2**bit_depth - 1)
    if mode == "RGB" and isinstance(key, tuple) and bit_depth == 16:
        # Matching on the high byte also clears the 255 other 16-bit colours that share it:
        # they are the same colour at 8 bits, all the output can show.
        return tuple(sample >> 8 for sample in key)
    return key


def _few_colours(image: Image.Image) -> bool:
    """At most _FEW_COLOURS colours in a nearest-neighbour sample: a graphic, not a photo."""
    if image.mode not in ("RGB", "RGBA", "CMYK"):
        return False  # grey has no chroma to subsample
    sample = image.resize(
        (min(image.width, _COLOUR_SAMPLE), min(image.height, _COLOUR_SAMPLE)), Image.Resampling.NEAREST
    )
    return sample.getcolors(_FEW_COLOURS) is not None


_UNSIGNED_16 = ("I;16", "I;16L", "I;16B", "I;16N")


def _deep_grey_range(image: Image.Image) -> tuple[float, float] | None:
    """The sample range to map onto 0..255 for 16-bit, 32-bit and float grey; None otherwise.

    Integer samples are mapped from their nominal range, not stretched over the ones used
    (a dark photo stays dark): 0..65535 for 16 bits. Except when every sample is within
    0..255: those are 8-bit samples in a 16- or 32-bit container (Pillow's own L -> I;16 and
    several converters write exactly that), which the 16-bit mapping turned black (255 ->
    1). A real 16-bit image never uses so little of its range: all of it would be darker
    than 1/256 of white, black at 8 bits either way. Signed or wider 32-bit data has no
    nominal range here and is stretched over its own; float 0..1 is taken as such.
    """
    if image.mode not in (*_UNSIGNED_16, "I", "F"):
        return None
    low, high = image.getextrema()  # type: ignore[misc]
    if image.mode == "F":
        return (0.0, 1.0) if low >= 0.0 and high <= 1.0 else (low, high)
    if low >= 0 and high <= 255:
        return 0, 255
    if low >= 0 and high <= 65535:
        return 0, 65535  # 16-bit samples (several decoders keep them in "I"): scale them as such
    return low, high


def _by_strips(image: Image.Image, mode: str, fn: Callable[[Image.Image], Image.Image], rows: int = 256) -> Image.Image:
    """``fn`` applied to horizontal strips of ``image``: the 32-bit copies it needs stay small."""
    out = Image.new(mode, image.size)
    for top in range(0, image.height, rows):
        out.paste(fn(image.crop((0, top, image.width, min(image.height, top + rows)))), (0, top))
    return out


def _key_mask(image: Image.Image, key: int) -> Image.Image:
    """L mask: 0 where the (deep grey) sample equals the colour key, 255 elsewhere."""
    values = image if image.mode == "I" else image.convert("I")
    return ImageMath.lambda_eval(lambda args: (args["v"] != key) * 255, v=values).convert("L")


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


def _encode(image: Image.Image, out_format: str, spec: ThumbnailSpec, *, graphic: bool, full_chroma: bool) -> bytes:
    # The caller cleared image.info: Pillow's encoders fall back to im.info for the ICC
    # profile, JPEG comment, PNG transparency ..., and no source metadata may reach a thumbnail.
    assert not image.info, "source metadata would leak into the thumbnail"
    if out_format == "JPEG":
        # Baseline, optimised Huffman tables: at thumbnail sizes progressive saves nothing.
        # subsampling 0 is 4:4:4, 2 is 4:2:0 (see _FULL_CHROMA_UP_TO).
        return _save(image, "JPEG", quality=spec.jpeg_quality, optimize=True, subsampling=0 if full_chroma else 2)
    if out_format == "PNG":
        # Not optimize=True (zlib level 9): see _PNG_STRATEGIES.
        return min((_save(image, "PNG", compress_level=6, compress_type=t) for t in _PNG_STRATEGIES), key=len)
    # Lossy WebP is always 4:2:0, which blurs a graphic's colour edges as JPEG's did.
    return _save(image, "WEBP", quality=spec.webp_quality, method=4, lossless=graphic)


def _save(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()
