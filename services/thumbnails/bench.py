"""`make bench-thumbnails`: the thumbnail pipeline against a full decode and a naive resize.

Generates a realistic 12 MP JPEG (gradients, shapes and sensor-like noise, quality 90) and
measures in the same run, each variant repeated (interleaved, so load on this shared
machine hits them alike) and the median taken:

  (a) make_thumbnails: every configured size, encoded
  (b) one full decode of the same bytes (Image.open + load)
  (c) naive: per size, open -> full load -> resize (LANCZOS) -> JPEG encode
  (d) the draft decode alone, at the scale make_thumbnails picks: the floor of (a)

Ratios are the median of per-round ratios (each round runs every variant back to back).

Then the resampling choices (time, PSNR, bytes) and the PNG encoder settings for alpha
sources (time and bytes of the three outputs, against optimize=True).

Peak memory is the RSS high-water mark of a fresh child process per variant (Pillow's pixel
buffers are C allocations that tracemalloc does not see). A last child runs the worst input
the default spec accepts without JPEG draft help: a 50 MP RGBA PNG.

Usage: python services/thumbnails/bench.py [--repeat N] [--skip-worst-case]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat
from thumbnails import imaging
from thumbnails.imaging import ThumbnailSpec, _draft_scale, _fit, make_thumbnails

SPEC = ThumbnailSpec()
GOAL = 0.6


def realistic_photo(width: int = 4000, height: int = 3000) -> Image.Image:
    """Smooth gradients (sky, vignette), hard edges (shapes) and per-channel noise."""
    size = (width, height)
    vertical = Image.linear_gradient("L").resize(size)
    horizontal = vertical.transpose(Image.Transpose.ROTATE_90).resize(size)
    radial = Image.radial_gradient("L").resize(size)
    channels = []
    for base, sigma in ((vertical, 28), (horizontal, 22), (radial, 34)):
        channels.append(Image.blend(base, Image.effect_noise(size, sigma), 0.3))
    photo = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(photo)
    for i in range(40):
        x, y = (i * 977) % width, (i * 613) % height
        r = 60 + (i * 37) % 300
        colour = ((i * 53) % 256, (i * 97) % 256, (i * 151) % 256)
        if i % 2:
            draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=6)
        else:
            draw.rectangle((x, y, x + 2 * r, y + r), fill=colour)
    return photo


def worst_case_png(pixels: int, mode: str) -> bytes:
    """At the pixel limit, in a mode no draft helps: RGBA with a real alpha ramp (so the output
    stays RGBA/PNG), or 16-bit grey."""
    side = math.isqrt(pixels)
    ramp = Image.linear_gradient("L").resize((side, side))
    if mode == "RGBA":
        image = Image.merge("RGBA", (ramp, ramp.transpose(Image.Transpose.ROTATE_90), ramp, ramp.rotate(180)))
    else:
        image = ramp.convert("I").point(lambda v: v * 257).convert("I;16")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def full_decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def draft_decode_only(data: bytes) -> None:
    """The floor of (a): libjpeg must still entropy-decode every coefficient at any scale."""
    with Image.open(io.BytesIO(data)) as image:
        scale = _draft_scale(image.size, _fit(*image.size, SPEC.sizes[-1]))
        image.draft("RGB", (image.width // scale, image.height // scale))
        image.load()


def naive(data: bytes) -> None:
    for size in SPEC.sizes:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            small = image.resize(_fit(*image.size, size), Image.Resampling.LANCZOS)
            small.save(io.BytesIO(), "JPEG", quality=SPEC.jpeg_quality, optimize=True)


VARIANTS: dict[str, Callable[[bytes], object]] = {
    "thumbnails": lambda data: make_thumbnails(data, SPEC),
    "full_decode": full_decode,
    "naive": naive,
    "draft_decode_only": draft_decode_only,
}


def timed(data: bytes, repeat: int) -> dict[str, list[float]]:
    for run in VARIANTS.values():  # warm-up: plugin imports, allocator
        run(data)
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(repeat):
        for name, run in VARIANTS.items():
            start = time.perf_counter()
            run(data)
            samples[name].append(time.perf_counter() - start)
    return samples


def psnr(a: Image.Image, b: Image.Image) -> float:
    rms = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).rms
    mse = sum(x * x for x in rms) / len(rms)
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


@contextlib.contextmanager
def patched(**constants: object) -> Iterator[None]:
    """imaging's module constants set for one comparison row (the bench only)."""
    saved = {name: getattr(imaging, name) for name in constants}
    for name, value in constants.items():
        setattr(imaging, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(imaging, name, value)


def quality_table(data: bytes, repeat: int) -> list[str]:
    """Draft scale and filters: time of make_thumbnails, PSNR of each output against a
    reference (full decode, LANCZOS straight from 12 MP, no JPEG) and the bytes of all three,
    next to the JPEG encode's own loss."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        references = {size: image.resize(_fit(*image.size, size), Image.Resampling.LANCZOS) for size in SPEC.sizes}
    lines = []
    ceiling = []
    for size, reference in references.items():
        buffer = io.BytesIO()
        subsampling = 0 if size <= imaging._FULL_CHROMA_UP_TO else 2  # as make_thumbnails encodes a photo
        reference.save(buffer, "JPEG", quality=SPEC.jpeg_quality, optimize=True, subsampling=subsampling)
        ceiling.append(f"{size}: {psnr(Image.open(buffer), reference):5.1f}")
    lines.append(f"  {'reference, JPEG-encoded only':46} {'':>9}  PSNR dB  {'  '.join(ceiling)}")
    r = Image.Resampling
    rows = [
        ("draft 1/8, BICUBIC up 2.4%, then BICUBIC", SPEC, {}, True),
        ("draft 1/4, BILINEAR, then BICUBIC", SPEC, {"_DRAFT_COVER": 1.0}, False),
        ("draft 1/4, BICUBIC, then BICUBIC", ThumbnailSpec(draft_resample=r.BICUBIC), {"_DRAFT_COVER": 1.0}, False),
        (
            "draft 1/4, LANCZOS, then LANCZOS",
            ThumbnailSpec(draft_resample=r.LANCZOS, resample=r.LANCZOS),
            {"_DRAFT_COVER": 1.0},
            False,
        ),
        ("draft 1/8 ..., 4:2:0 at 128 px too", SPEC, {"_FULL_CHROMA_UP_TO": 0}, False),
    ]
    times: dict[str, list[float]] = {label: [] for label, *_ in rows}
    outputs = {}
    for _ in range(repeat):  # interleaved, so load on this shared machine hits every row alike
        for label, spec, constants, _chosen in rows:
            with patched(**constants):
                start = time.perf_counter()
                outputs[label] = make_thumbnails(data, spec)
                times[label].append(time.perf_counter() - start)
    for label, _spec, _constants, chosen in rows:
        thumbs = outputs[label]
        scores = "  ".join(f"{t.size}: {psnr(Image.open(io.BytesIO(t.body)), references[t.size]):5.1f}" for t in thumbs)
        size = sum(len(t.body) for t in thumbs) / 1000
        mark = "  <- chosen" if chosen else ""
        ms = statistics.median(times[label]) * 1000
        lines.append(f"  {label:46} {ms:6.1f} ms  PSNR dB  {scores}  {size:5.1f} kB{mark}")
    return lines


def alpha_sources() -> dict[str, bytes]:
    """PNGs with alpha, 1200x900: what a shop gets (cut-outs, logos, screenshots)."""
    size = (1200, 900)
    photo = realistic_photo(*size)
    oval = Image.new("L", size, 0)
    ImageDraw.Draw(oval).ellipse((50, 50, size[0] - 50, size[1] - 50), fill=255)
    rounded = Image.new("L", size, 0)
    ImageDraw.Draw(rounded).rounded_rectangle((80, 60, size[0] - 80, size[1] - 60), 120, fill=255)
    cutout = photo.filter(ImageFilter.GaussianBlur(3)).convert("RGBA")
    cutout.putalpha(rounded.filter(ImageFilter.GaussianBlur(2)))
    noisy = photo.convert("RGBA")
    noisy.putalpha(oval)
    logo = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(logo)
    draw.ellipse((100, 100, size[0] - 100, size[1] - 100), fill=(200, 30, 30, 255))
    draw.rectangle((300, 300, 900, 600), fill=(30, 30, 200, 255))
    ui = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(ui)
    draw.rounded_rectangle(
        (20, 20, size[0] - 20, size[1] - 20), 30, fill=(245, 245, 250, 255), outline=(120, 120, 140, 255)
    )
    for i in range(40):
        draw.text(
            (60, 50 + i * 20), f"Item {i}: the quick brown fox jumps over the lazy dog {i * 37}", fill=(20, 20, 20, 255)
        )
    sources = {}
    for name, image in (
        ("product cut-out", cutout),
        ("noisy photo, oval", noisy),
        ("logo", logo),
        ("UI with text", ui),
    ):
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        sources[name] = buffer.getvalue()
    return sources


def png_table(repeat: int) -> list[str]:
    """The three PNG outputs of each alpha source, encoded with each setting: ms and bytes."""
    settings = {
        "optimize=True": [{"optimize": True}],
        "level 6": [{"compress_level": 6}],
        "Z_RLE": [{"compress_level": 6, "compress_type": 3}],
        "smaller of both": [{"compress_level": 6, "compress_type": t} for t in imaging._PNG_STRATEGIES],
    }
    lines = [f"  {'source (1200x900 RGBA)':22} " + "  ".join(f"{name:>22}" for name in settings)]
    for name, data in alpha_sources().items():
        outputs = [Image.open(io.BytesIO(t.body)) for t in make_thumbnails(data, SPEC)]
        for image in outputs:
            image.load()
            image.info = {}
        times: dict[str, list[float]] = {setting: [] for setting in settings}
        sizes: dict[str, int] = {}
        for _ in range(repeat):  # interleaved, as above
            for setting, params_list in settings.items():
                start = time.perf_counter()
                sizes[setting] = sum(min(len(_png(image, params)) for params in params_list) for image in outputs)
                times[setting].append(time.perf_counter() - start)
        cells = [f"{statistics.median(times[k]) * 1000:6.1f} ms {sizes[k] / 1000:6.1f} kB" for k in settings]
        lines.append(f"  {name:22} " + "  ".join(f"{cell:>22}" for cell in cells))
    return lines


def _png(image: Image.Image, params: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **params)
    return buffer.getvalue()


def rss_high_water_kib() -> int:
    """This process's peak RSS. VmHWM is per address space, so it starts afresh at exec;
    ru_maxrss (RUSAGE_SELF or RUSAGE_CHILDREN) does not: Linux carries the parent's
    high-water mark across fork and exec, which would report the parent's 12 MP buffers."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(variant: str, path: str) -> None:
    """Runs in a fresh process: report the RSS high-water before and after one run of the variant."""
    data = Path(path).read_bytes()
    Image.init()  # every plugin imported up front, so all variants start from the same baseline
    before = rss_high_water_kib()
    start = time.perf_counter()
    VARIANTS.get(variant, VARIANTS["thumbnails"])(data)
    seconds = time.perf_counter() - start
    print(json.dumps({"baseline_kib": before, "peak_kib": rss_high_water_kib(), "seconds": seconds}))


def peak_rss(variant: str, path: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", variant, str(path)], check=True, capture_output=True, text=True
    )
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--skip-worst-case", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    buffer = io.BytesIO()
    realistic_photo().save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    print(f"source: 4000x3000 JPEG q90, {len(data) / 1e6:.2f} MB; sizes {SPEC.sizes}; {args.repeat} rounds")

    samples = timed(data, args.repeat)
    med = {name: statistics.median(values) for name, values in samples.items()}
    low = {name: min(values) for name, values in samples.items()}
    a, b, c, d = med["thumbnails"], med["full_decode"], med["naive"], med["draft_decode_only"]
    print(f"  (a) make_thumbnails, all sizes  {a * 1000:7.1f} ms   (fastest {low['thumbnails'] * 1000:6.1f})")
    print(f"  (b) one full decode             {b * 1000:7.1f} ms   (fastest {low['full_decode'] * 1000:6.1f})")
    print(f"  (c) naive open->load->resize    {c * 1000:7.1f} ms   (fastest {low['naive'] * 1000:6.1f})")
    print(f"  (d) draft decode alone          {d * 1000:7.1f} ms   (fastest {low['draft_decode_only'] * 1000:6.1f})")
    # Ratios per round (a and b ran back to back, under the same load), then the median:
    # steadier than a ratio of medians on a machine shared with other work.
    a_b = statistics.median(x / y for x, y in zip(samples["thumbnails"], samples["full_decode"], strict=True))
    c_a = statistics.median(x / y for x, y in zip(samples["naive"], samples["thumbnails"], strict=True))
    d_b = statistics.median(x / y for x, y in zip(samples["draft_decode_only"], samples["full_decode"], strict=True))
    verdict = "met" if a_b <= GOAL else "NOT met"
    print(f"  (a)/(b) = {a_b:.2f}  (goal <= {GOAL}: {verdict}; ratio of medians {a / b:.2f})")
    print(f"  (c)/(a) = {c_a:.1f}x    (d)/(b) = {d_b:.2f}: the entropy-decoding floor no draft scale removes")

    with tempfile.TemporaryDirectory() as tmp:
        photo_path = Path(tmp) / "photo.jpg"
        photo_path.write_bytes(data)
        print("peak RSS, fresh process per variant (baseline = interpreter + Pillow + source bytes):")
        for name in ("thumbnails", "full_decode", "naive"):
            m = peak_rss(name, photo_path)
            growth = (m["peak_kib"] - m["baseline_kib"]) / 1024
            peak, baseline = m["peak_kib"] / 1024, m["baseline_kib"] / 1024
            print(f"  {name:12} peak {peak:6.1f} MiB  (baseline {baseline:5.1f}, +{growth:5.1f})")
        if not args.skip_worst_case:
            for mode, label in (("RGBA", "RGBA PNG"), ("I;16", "16-bit grey PNG")):
                png_path = Path(tmp) / "worst.png"
                png_path.write_bytes(worst_case_png(SPEC.max_pixels, mode))
                m = peak_rss("worst_case", png_path)
                print(
                    f"  worst case: {SPEC.max_pixels / 1e6:.0f} MP {label} ({png_path.stat().st_size / 1e6:.1f} MB): "
                    f"make_thumbnails {m['seconds']:.2f} s, peak {m['peak_kib'] / 1024:.0f} MiB"
                )

    print("draft scale and resampling (quality vs speed), sizes 128/256/512:")
    for line in quality_table(data, max(3, args.repeat // 2)):
        print(line)
    print("PNG outputs of alpha sources, all three sizes encoded (our choice: the smaller of level 6 and Z_RLE):")
    for line in png_table(max(3, args.repeat // 2)):
        print(line)


if __name__ == "__main__":
    main()
