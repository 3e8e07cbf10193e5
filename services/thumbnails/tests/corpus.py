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
