"""The thumbnail test corpus, generated in memory: no binary files in git.

Each function returns the bytes of one kind of upload (hostile or odd). Files Pillow cannot
write (16-bit RGB PNG, a PNG declaring 30000x30000, PSD, ICC profiles) are assembled by
hand from their specifications.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

from PIL import ExifTags, Image, ImageCms, ImageDraw

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
GREY = (128, 128, 128)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def corner_marked(width: int = 400, height: int = 300) -> Image.Image:
    """Grey, with a red block at the stored top-left and a green block at the top-right.

    Two marks tell all eight EXIF orientations apart (one alone cannot tell a flip from a turn).
    """
    image = Image.new("RGB", (width, height), GREY)
    draw = ImageDraw.Draw(image)
    block_w, block_h = width // 4, height // 4
    draw.rectangle((0, 0, block_w - 1, block_h - 1), fill=RED)
    draw.rectangle((width - block_w, 0, width - 1, block_h - 1), fill=GREEN)
    return image


def exif(orientation: int | None = None, gps: bool = False) -> Image.Exif:
    tags = Image.Exif()
    tags[ExifTags.Base.Make] = "PhoneCo"
    tags[ExifTags.Base.Model] = "Phone 15"
    if orientation is not None:
        tags[ExifTags.Base.Orientation] = orientation
    if gps:
        tags[ExifTags.Base.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (52.0, 22.0, 12.5),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (4.0, 53.0, 33.0),
        }
    return tags


def jpeg_with_orientation(orientation: int) -> bytes:
    return encode(corner_marked(), "JPEG", quality=95, exif=exif(orientation))


@functools.cache
def photo_4000x3000() -> bytes:
    """A 12 MP JPEG (gradients, cheap to make); cached: several tests read it."""
    ramp = Image.linear_gradient("L").resize((4000, 3000))
    image = Image.merge("RGB", (ramp, ramp.transpose(Image.Transpose.ROTATE_180), ramp.rotate(90)))
    return encode(image, "JPEG", quality=85)


def jpeg_with_gps_and_icc() -> bytes:
    """What a phone uploads: EXIF with GPS, an ICC profile, a comment."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(
        corner_marked(), "JPEG", quality=90, exif=exif(1, gps=True), icc_profile=srgb, comment=b"taken at home"
    )


def cmyk_jpeg() -> bytes:
    """Pure cyan on the left half, pure magenta on the right (as CMYK ink values)."""
    image = Image.new("CMYK", (200, 100), (255, 0, 0, 0))
    image.paste((0, 255, 0, 0), (100, 0, 200, 100))
    return encode(image, "JPEG", quality=95)


def mpo() -> bytes:
    """A multi-picture JPEG (phones write these): two frames, the first is red."""
    first = Image.new("RGB", (300, 200), RED)
    second = Image.new("RGB", (300, 200), BLUE)
    return encode(first, "MPO", save_all=True, append_images=[second], quality=95)


def rgba_png(opaque: bool = False) -> bytes:
    """Red, with a fully transparent left half unless ``opaque``."""
    image = Image.new("RGBA", (300, 200), (*RED, 255))
    if not opaque:
        image.paste((0, 0, 0, 0), (0, 0, 150, 200))
    return encode(image, "PNG")


def la_png() -> bytes:
    """Grey 200, left half transparent."""
    image = Image.new("LA", (300, 200), (200, 255))
    image.paste((0, 0), (0, 0, 150, 200))
    return encode(image, "PNG")


def palette_gif_with_transparency() -> bytes:
    """Palette index 0 transparent (left half), index 1 red (right half)."""
    image = Image.new("P", (300, 200), 0)
    image.putpalette([*GREEN, *RED] + [0, 0, 0] * 254)
    image.paste(1, (150, 0, 300, 200))
    return encode(image, "GIF", transparency=0)


def palette_png_opaque() -> bytes:
    image = Image.new("P", (300, 200), 0)
    image.putpalette([*BLUE] + [0, 0, 0] * 255)
    return encode(image, "PNG")


def animated_gif() -> bytes:
    """Three frames: red, green, blue. The thumbnail must show the first."""
    frames = [Image.new("RGB", (240, 160), colour).convert("P") for colour in (RED, GREEN, BLUE)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (240, 160), colour) for colour in (RED, GREEN, BLUE)]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)


def apng() -> bytes:
    frames = [Image.new("RGB", (240, 160), colour) for colour in (RED, GREEN, BLUE)]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100)


def gray16_png(width: int = 1600, height: int = 60) -> bytes:
    """A horizontal 16-bit ramp over the whole 0..65535 range (Pillow mode I;16).

    Wide enough that shrinking it takes more than 6x (where 8-bit modes get a reduce() first).
    """
    image = Image.new("I;16", (width, height))
    image.putdata([x * 65535 // (width - 1) for _ in range(height) for x in range(width)])
    return encode(image, "PNG")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, raw_rows: bytes) -> bytes:
    """A PNG from its rows (each already prefixed by its filter byte)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw_rows))
        + _png_chunk(b"IEND", b"")
    )


def deep_grey_tiff(mode: str, samples: list[float], height: int = 20) -> bytes:
    """A TIFF of 32-bit int ("I") or float ("F") grey, one column per sample, for every row."""
    image = Image.new(mode, (len(samples), height))
    image.putdata(samples * height)
    return encode(image, "TIFF")


def rgb16_png(width: int = 300, height: int = 40) -> bytes:
    """16-bit RGB (Pillow cannot write it): red ramps 0..65535 left to right, blue is 0x8000."""
    rows = bytearray()
    for _ in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows += struct.pack(">HHH", x * 65535 // (width - 1), 0, 0x8000)
    return png_bytes(width, height, 16, 2, bytes(rows))


def bilevel_png() -> bytes:
    """Mode 1: white, with a black left half."""
    image = Image.new("1", (300, 200), 1)
    image.paste(0, (0, 0, 150, 200))
    return encode(image, "PNG")


def png_with_metadata() -> bytes:
    """RGBA (so the output is PNG) with text chunks, EXIF with GPS and an ICC profile."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "someone")
    info.add_itxt("Location", "52.37 N, 4.89 E", zip=True)
    image = Image.open(io.BytesIO(rgba_png()))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(image, "PNG", pnginfo=info, exif=exif(1, gps=True), icc_profile=srgb)


def swapped_primaries_profile() -> bytes:
    """sRGB with its red and green primaries exchanged: pure red in it is pure green in sRGB."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", profile[128:132])[0]
    entries = {}
    for i in range(count):
        at = 132 + 12 * i
        entries[bytes(profile[at : at + 4])] = at
    red, green = entries[b"rXYZ"], entries[b"gXYZ"]
    red_entry, green_entry = profile[red + 4 : red + 12], profile[green + 4 : green + 12]
    profile[red + 4 : red + 12], profile[green + 4 : green + 12] = green_entry, red_entry
    return bytes(profile)


def jpeg_with_foreign_profile() -> bytes:
    return encode(Image.new("RGB", (200, 100), RED), "JPEG", quality=95, icc_profile=swapped_primaries_profile())


def jpeg_with_unusable_profile(kind: str) -> bytes:
    """Red, tagged with garbage, or with a real profile of the wrong colour space (Lab)."""
    if kind == "garbage":
        profile = b"this is not an ICC profile" * 8
    else:
        profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    return encode(Image.new("RGB", (200, 100), RED), "JPEG", quality=95, icc_profile=profile)


def jpeg_with_broken_exif() -> bytes:
    """An APP1 Exif segment whose TIFF structure is garbage."""
    return encode(corner_marked(), "JPEG", quality=95, exif=b"Exif\x00\x00MM\x00*\xff\xff\xff\xf0garbage")


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    return data[: int(len(data) * keep)]


def truncated_jpeg() -> bytes:
    return truncated(encode(corner_marked(800, 600), "JPEG", quality=90))


def truncated_png() -> bytes:
    return truncated(encode(Image.effect_noise((300, 200), 60).convert("RGB"), "PNG"))


def png_with_corrupt_data() -> bytes:
    """A complete PNG (valid checksums) whose compressed pixel stream is garbage."""
    data = bytearray(encode(Image.effect_noise((64, 64), 60), "PNG"))
    idat = data.index(b"IDAT")
    length = struct.unpack(">I", data[idat - 4 : idat])[0]
    payload = bytes(0xA5 ^ b for b in data[idat + 4 : idat + 4 + length])
    data[idat + 4 : idat + 4 + length] = payload
    data[idat + 4 + length : idat + 8 + length] = struct.pack(">I", zlib.crc32(b"IDAT" + payload))
    return bytes(data)


def png_bomb(side: int = 30000) -> bytes:
    """A ~100-byte PNG declaring side x side RGB pixels (2.7 GB decoded at 30000)."""
    return png_bytes(side, side, 8, 2, b"\x00" * 16)


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose SOF header is rewritten to claim width x height."""
    data = bytearray(encode(Image.new("RGB", (16, 16), GREY), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def text_named_jpg() -> bytes:
    return b"Dear customer,\nthis is not a photo, it is a letter saved as letter.jpg.\n" * 20


def bmp() -> bytes:
    return encode(corner_marked(64, 48), "BMP")


def ico() -> bytes:
    return encode(corner_marked(64, 64), "ICO")


def tiff() -> bytes:
    return encode(corner_marked(), "TIFF")


def psd(width: int = 32, height: int = 16) -> bytes:
    """A minimal Photoshop file: header, empty sections, raw 8-bit RGB planes."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, image resources, layers
    planes = bytes([200]) * (width * height) + bytes([50]) * (width * height) * 2
    return header + sections + struct.pack(">H", 0) + planes


# --- issue 10: colour keys, 8-bit data in 16 bits, graphics, thin panoramas, truncation ---


def colour_keyed_png(mode: str) -> bytes:
    """A PNG with a tRNS colour key (no alpha channel): the left half is the key colour."""
    key, other = {"1": (0, 1), "L": (0, 200), "RGB": ((0, 0, 0), RED), "I;16": (1000, 60000)}[mode]
    width, height = 300, 200
    image = Image.new(mode, (width, height))
    image.putdata(
        [key if x < width // 2 else other for _ in range(height) for x in range(width)]
    )  # (paste() fills I;16 with 8-bit values)
    return encode(image, "PNG", transparency=key)


def _with_chunk(png: bytes, kind: bytes, payload: bytes) -> bytes:
    """``png`` with one more chunk right after IHDR (where tRNS may go for grey and RGB)."""
    at = 8 + 8 + 13 + 4  # signature, IHDR length/type, IHDR payload, CRC
    return png[:at] + _png_chunk(kind, payload) + png[at:]


def low_bit_grey_png_with_key(bit_depth: int, width: int = 300, height: int = 200) -> bytes:
    """2- or 4-bit grey: left half the top value (white), which the tRNS key names; right half 0."""
    top = 2**bit_depth - 1
    per_byte = 8 // bit_depth
    row_bytes = width // per_byte
    white = 0
    for _ in range(per_byte):
        white = (white << bit_depth) | top
    row = b"\x00" + bytes([white]) * (row_bytes // 2) + bytes(row_bytes - row_bytes // 2)
    return _with_chunk(png_bytes(width, height, bit_depth, 0, row * height), b"tRNS", struct.pack(">H", top))


def rgb16_png_with_key(width: int = 300, height: int = 200) -> bytes:
    """16-bit RGB: left half the key colour 0x1234/0x5678/0x9abc, right half red; tRNS names the key
    (its low bytes differ from its high bytes, so comparing it with 8-bit samples as-is finds nothing)."""
    key = (0x1234, 0x5678, 0x9ABC)
    row = b"\x00" + struct.pack(">HHH", *key) * (width // 2) + struct.pack(">HHH", 65535, 0, 0) * (width - width // 2)
    return _with_chunk(png_bytes(width, height, 16, 2, row * height), b"tRNS", struct.pack(">HHH", *key))


def grey_ramp(mode: str, top: int, width: int = 300, height: int = 20) -> Image.Image:
    """A horizontal ramp 0..top in a deep grey mode (I;16, I;16B, I)."""
    image = Image.new(mode, (width, height))
    image.putdata([x * top // (width - 1) for _ in range(height) for x in range(width)])
    return image


def stripes(width: int = 600, height: int = 400, stripe: int = 20) -> Image.Image:
    """A graphic: red with vertical blue stripes, every edge sharp."""
    image = Image.new("RGB", (width, height), RED)
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 2 * stripe):
        draw.rectangle((x, 0, x + stripe - 1, height - 1), fill=BLUE)
    return image


def panorama(width: int, height: int, fmt: str) -> bytes:
    """Dark at one long edge, bright at the other (a ramp across the short side): a reduced
    decode whose last pixel is mostly padding weighs the bright edge several times over."""
    ramp = Image.linear_gradient("L")  # 256x256, black at the top
    if width < height:
        ramp = ramp.rotate(90)
    image = ramp.resize((width, height), Image.Resampling.BILINEAR).convert("RGB")
    return encode(image, fmt, **({"quality": 95} if fmt == "JPEG" else {}))


def animated_webp_with_transparent_canvas() -> bytes:
    """Two frames, red then green, covering the right half only (libwebp then leaves the file's
    ALPHA flag unset): browsers show the left half transparent."""
    frames = []
    for colour in (RED, GREEN):
        frame = Image.new("RGBA", (240, 160), (*colour, 255))
        frame.paste((0, 0, 0, 0), (0, 0, 120, 160))
        frames.append(frame)
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)


def animated_with_transparent_first_frame(fmt: str) -> bytes:
    """Red then green, the left half transparent in both frames."""
    frames = []
    for colour in (RED, GREEN):
        frame = Image.new("RGBA", (240, 160), (*colour, 255))
        frame.paste((0, 0, 0, 0), (0, 0, 120, 160))
        frames.append(frame)
    params: dict[str, object] = {"lossless": True} if fmt == "WEBP" else {"disposal": 2} if fmt == "GIF" else {}
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **params)


def alpha_with_orientation(fmt: str, orientation: int) -> bytes:
    """corner_marked (red top-left, green top-right) as RGBA, the bottom-left block transparent,
    tagged with an EXIF orientation (PNG eXIf chunk, WebP EXIF chunk)."""
    image = corner_marked().convert("RGBA")
    image.paste((0, 0, 0, 0), (0, 225, 100, 300))
    return encode(image, fmt, exif=exif(orientation), **({"lossless": True} if fmt == "WEBP" else {}))


def grey_tiff_with_associated_alpha() -> bytes:
    """Grey 200 with premultiplied ("associated") alpha, left half transparent: Pillow's mode La.

    Pillow writes LA with ExtraSamples = 2 (unassociated); the tag's value is patched to 1."""
    image = Image.new("LA", (300, 200), (200, 255))
    image.paste((0, 0), (0, 0, 150, 200))
    data = bytearray(encode(image, "TIFF"))
    entry = struct.pack("<HHIHH", 338, 3, 1, 2, 0)  # ExtraSamples, SHORT, count 1, value 2
    at = data.index(entry)
    data[at : at + len(entry)] = struct.pack("<HHIHH", 338, 3, 1, 1, 0)
    return bytes(data)


def ico_around_png(side: int) -> bytes:
    """An ICO whose one entry is a PNG declaring side x side pixels (Pillow decodes an ICO's
    largest frame when it opens the file)."""
    inner = png_bomb(side)
    return struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(inner), 22) + inner


def png_with_invalid_header() -> bytes:
    """Complete (IEND, valid CRCs), but IHDR declares an impossible bit depth for RGB."""
    return png_bytes(10, 10, 3, 2, b"\x00" * 40)
