"""Benchmark the packager: `python -m devtools.bench_package` (make bench-package).

Builds every service from scratch (--force) into a temporary dist and prints, per service, the
build time (pip install from pip's download cache, warm after a first build on this machine,
the bytecode compilation by the runtime's Python, checks and zipping), the zip size, the unzipped
size, what the bytecode adds to both, and the file count, against Lambda's limits.

What the bytecode buys at a cold start, and each handler's import time from its zip on
python3.12/3.13: `make bench-coldstart` (`--no-bytecode` for the same zips without it).
"""

from __future__ import annotations

import platform
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from pathlib import Path

from devtools.manifest import Service, load_services
from devtools.package import MAX_UNZIPPED_BYTES, MAX_ZIP_BYTES, PackagingError, build_service


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*r) for r in [header, *rows])


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.2f} MB"


def _bytecode_share(zip_path: Path) -> tuple[int, int]:
    """(compressed, uncompressed) bytes of the .pyc in the zip."""
    with zipfile.ZipFile(zip_path) as zf:
        pyc = [i for i in zf.infolist() if i.filename.endswith(".pyc")]
    return sum(i.compress_size for i in pyc), sum(i.file_size for i in pyc)


def bench_builds(services: list[Service], dist: Path) -> None:
    rows = []
    for svc in services:
        try:
            result = build_service(svc, dist, force=True)
        except PackagingError as exc:
            rows.append([svc.name, f"{svc.runtime}/{svc.architecture}", "FAILED", str(exc).splitlines()[0], "", "", ""])
            continue
        zipped_pyc, unzipped_pyc = _bytecode_share(result.zip_path)
        rows.append([
            svc.name, f"{svc.runtime}/{svc.architecture}", f"{result.seconds:.1f} s",
            _mb(result.zip_bytes), _mb(result.unzipped_bytes), f"{_mb(zipped_pyc)} / {_mb(unzipped_pyc)}",
            str(result.files),
        ])  # fmt: skip
    print(_table(rows, ["service", "target", "build", "zip", "unzipped", ".pyc in them", "files"]))
    print(f"Lambda's limits: {_mb(MAX_ZIP_BYTES)} zipped (direct upload), {_mb(MAX_UNZIPPED_BYTES)} unzipped.")


def main() -> int:
    services = load_services()
    print(
        f"Building {len(services)} service(s) from scratch (pip download cache: {_pip_cache()}, "
        "warm after a first build here; times include pip install, bytecode, checks and zipping)\n"
    )
    with tempfile.TemporaryDirectory(prefix="bench-package-") as tmp:
        bench_builds(services, Path(tmp) / "dist")
    print("\nCold starts from these zips (with and without their .pyc): make bench-coldstart")
    return 0


def _pip_cache() -> str:
    proc = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "pip default"


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"\n(bench took {time.monotonic() - started:.0f} s; {sysconfig.get_platform()}, {platform.python_version()})")
    raise SystemExit(code)
