"""Benchmark the packager: `python -m devtools.bench_package` (make bench-package).

1. Builds every service from scratch (--force) into a temporary dist and prints, per service,
   the build time (pip install from pip's download cache, warm after a first build on this
   machine, plus checks and zipping), zip size, unzipped size and file count.
2. Handler import time from the zip itself, only where this machine can run the zip (same
   CPython minor version and CPU as the Lambda runtime). Otherwise it says why it skips.
3. The .pyc question. Lambda's /var/task is read-only, so a zip without bytecode compiles
   every module on every cold start. We could only precompile with this machine's Python,
   whose bytecode the target version ignores, so zips ship none. To put a number on that,
   the same packager builds each service for *this* machine's Python/CPU (a proxy zip),
   unzips it twice, precompiles one copy, makes both read-only and times, in fresh processes
   with PYTHONDONTWRITEBYTECODE=1, `import shared.events, pydantic` and the handler modules.
   A proxy: other Python version, other CPU, this machine's disk cache.
"""

from __future__ import annotations

import compileall
import dataclasses
import os
import platform
import shutil
import stat
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from pathlib import Path

from devtools.manifest import Deployment, Service, load_services
from devtools.package import SHARED_DIR, PackagingError, build_service

RUNS = 7
HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower()
)
HOST_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"

_TIMER = """
import sys, time
sys.path[:0] = [{tree!r}]
t = time.perf_counter()
{imports}
print(time.perf_counter() - t)
"""


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*r) for r in [header, *rows])


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.2f} MB"


def _unzip(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    return dest


def _read_only(tree: Path) -> None:
    for path in sorted(tree.rglob("*"), reverse=True):
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    tree.chmod(0o555)


def _lambda_environment(svc: Service) -> dict[str, str]:
    """What Lambda would set for the service's functions: handlers build clients at import."""
    deployment = Deployment("bench", "eu-west-1")
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}
    env.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})  # no call is made
    for fn in svc.functions:
        env.update(deployment.function_environment(svc, fn))
    return env


def _import_seconds(tree: Path, modules: list[str], extra_env: dict[str, str] | None = None) -> float:
    """Import `modules` from `tree` in a fresh interpreter; boto3 (the runtime's) from this venv."""
    imports = "\n".join(f"import {m}" for m in modules)
    env = {**os.environ, **(extra_env or {}), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": ""}
    # site-packages stay on the path *after* the tree: only boto3/botocore come from there.
    proc = subprocess.run(
        [sys.executable, "-c", _TIMER.format(tree=str(tree), imports=imports)],
        env=env, capture_output=True, text=True, check=False, cwd=tree,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "import failed")
    return float(proc.stdout.strip().splitlines()[-1])


def _handler_modules(svc: Service) -> list[str]:
    return sorted({fn.handler_module for fn in svc.functions})


def _host_variant(svc: Service) -> Service:
    fns = tuple(dataclasses.replace(fn, runtime=HOST_RUNTIME, architecture=HOST_ARCH) for fn in svc.functions)
    return dataclasses.replace(svc, functions=fns)


def bench_builds(services: list[Service], dist: Path) -> dict[str, Path]:
    rows, zips = [], {}
    for svc in services:
        try:
            result = build_service(svc, dist, force=True)
        except PackagingError as exc:
            rows.append([svc.name, f"{svc.runtime}/{svc.architecture}", "FAILED", str(exc).splitlines()[0], "", ""])
            continue
        zips[svc.name] = result.zip_path
        rows.append([
            svc.name, f"{svc.runtime}/{svc.architecture}", f"{result.seconds:.1f} s",
            _mb(result.zip_bytes), _mb(result.unzipped_bytes), str(result.files),
        ])  # fmt: skip
    print(_table(rows, ["service", "target", "build", "zip", "unzipped", "files"]))
    return zips


def bench_zip_imports(services: list[Service], zips: dict[str, Path], tmp: Path) -> None:
    print("\nHandler import time from the Lambda zip itself:")
    for svc in services:
        if svc.name not in zips:
            continue
        if (svc.runtime, svc.architecture) != (HOST_RUNTIME, HOST_ARCH):
            print(
                f"  {svc.name}: skipped: the zip holds CPython {svc.runtime[6:]} wheels for "
                f"{svc.architecture}; this machine runs CPython {HOST_RUNTIME[6:]} on {platform.machine()}, "
                "so its native modules (pydantic_core) cannot load here"
            )
            continue
        tree = _unzip(zips[svc.name], tmp / f"zip-{svc.name}")
        seconds = statistics.median(_import_seconds(tree, _handler_modules(svc)) for _ in range(RUNS))
        print(f"  {svc.name}: {', '.join(_handler_modules(svc))}: {seconds * 1000:.0f} ms (median of {RUNS})")


def bench_bytecode(services: list[Service], tmp: Path) -> None:
    print(
        f"\n.pyc proxy: fresh CPython {HOST_RUNTIME[6:]} processes importing from a read-only tree "
        f"(PYTHONDONTWRITEBYTECODE=1), median of {RUNS}, built by the same packager for this machine "
        f"({HOST_RUNTIME}/{HOST_ARCH}):"
    )
    if HOST_ARCH is None:
        print(f"  skipped: unknown CPU {platform.machine()}")
        return
    rows = []
    for svc in services:
        try:
            proxy = build_service(_host_variant(svc), tmp / "proxy-dist", force=True)
        except PackagingError as exc:
            print(f"  {svc.name}: proxy build failed: {exc}")
            continue
        plain = _unzip(proxy.zip_path, tmp / f"plain-{svc.name}")
        compiled = tmp / f"pyc-{svc.name}"
        shutil.copytree(plain, compiled)  # copy2: same mtimes, so the .pyc stay valid
        compileall.compile_dir(compiled, quiet=1, workers=1)
        for tree in (plain, compiled):
            _read_only(tree)
        cases = [("shared.events + pydantic", ["shared.events", "pydantic"]), ("handlers", _handler_modules(svc))]
        if not (SHARED_DIR / "events").is_dir():
            cases[0] = ("shared + pydantic", ["shared", "pydantic"])
        for label, modules in cases:
            try:
                without, with_pyc = [], []
                for _ in range(RUNS):  # interleaved, so machine noise hits both alike
                    without.append(_import_seconds(plain, modules, _lambda_environment(svc)))
                    with_pyc.append(_import_seconds(compiled, modules, _lambda_environment(svc)))
            except RuntimeError as exc:
                rows.append([svc.name, label, "error", str(exc)[:60], ""])
                continue
            a, b = statistics.median(without), statistics.median(with_pyc)
            rows.append([svc.name, label, f"{a * 1000:.1f} ms", f"{b * 1000:.1f} ms", f"{a / b:.1f}x"])
        leaked = list(plain.rglob("__pycache__"))
        if leaked:
            print(f"  warning: {len(leaked)} __pycache__ folders appeared in the no-.pyc tree")
    print(_table(rows, ["service", "imports", "no .pyc", "with .pyc", "ratio"]))
    print(
        "  The target runtime would pay the 'no .pyc' column on every cold start (its /var/task is read-only);"
        "\n  shipping .pyc needs bytecode compiled by the target's CPython version (e.g. a python3.12 build step)."
    )


def main() -> int:
    services = load_services()
    print(
        f"Building {len(services)} service(s) from scratch (pip download cache: {_pip_cache()}, "
        "warm after a first build here; times include pip install, checks and zipping)\n"
    )
    with tempfile.TemporaryDirectory(prefix="bench-package-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            zips = bench_builds(services, tmp / "dist")
            bench_zip_imports(services, zips, tmp)
            bench_bytecode(services, tmp)
        finally:
            for path in tmp.rglob("*"):  # read-only trees must be writable to be removed
                if path.is_dir():
                    path.chmod(0o755)
    return 0


def _pip_cache() -> str:
    proc = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "pip default"


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"\n(bench took {time.monotonic() - started:.0f} s; {sysconfig.get_platform()}, {platform.python_version()})")
    raise SystemExit(code)
