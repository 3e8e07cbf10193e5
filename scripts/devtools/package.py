"""Build one reproducible Lambda zip per service: `dist/<service>.zip`.

    python -m devtools.package                    # every service
    python -m devtools.package --service webhooks # one

A zip holds, at its root, the service package (services/<name>/src/), the `shared/`
library and the third-party wheels pinned in shared/requirements.txt and
services/<name>/requirements.txt, installed by pip *for the Lambda platform* (the
service's runtime and architecture, manylinux wheels only, never this machine's).

Properties the tests check:

- Reproducible: sorted entries, 1980-01-01 timestamps, 0644 files / 0755 dirs, fixed
  compression level, no build paths inside (bin/ scripts dropped; INSTALLER, REQUESTED,
  direct_url.json dropped and RECORD rewritten to match). Same inputs, same sha256,
  whatever the mtimes, umask or checkout path.
- Incremental: a fingerprint of the inputs' *contents* is kept in
  dist/<service>.inputs.json; when it matches and the zip is intact, nothing is rebuilt.
- Compiled: every .py also ships as `__pycache__/<name>.cpython-3XX.pyc`, compiled by the CPython of
  the manifest's runtime (python3.12 -> the 3.12 that scripts/find-python finds) with
  `PycInvalidationMode.UNCHECKED_HASH`: no mtime inside (reproducible) and no source check at import.
  Lambda's /var/task is read-only, so without them every cold start compiles every module it
  imports (DECISIONS.md #12 has the figures). No such interpreter here: the build fails, naming it;
  `--no-bytecode` builds without (a zip that differs, and cold starts 2-3x slower).
- Checked: boto3/botocore/s3transfer are refused (the runtime has them); every native
  module is an ELF for the target machine and CPython version; every dependency a shipped
  package declares is shipped too (or provided by the runtime); Lambda's size limits.

Beside each zip: `<service>.zip.sha256` (sha256sum format) and `<service>.zip.base64sha256`
(base64 of the raw digest, no newline: Terraform's `source_code_hash = file(...)`).
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from devtools.elf import LAMBDA_MACHINES, NotElfError, elf_machine, machine_name
from devtools.manifest import REPO_ROOT, SERVICES_DIR, ManifestError, Service, load_services

# Bump when a change here changes what goes into a zip: every service is rebuilt.
PACKAGER_VERSION = "2"

DIST_DIR = REPO_ROOT / "dist"
SHARED_DIR = REPO_ROOT / "shared"
CONSTRAINTS_FILE = REPO_ROOT / "requirements" / "dev.txt"
FIND_PYTHON = REPO_ROOT / "scripts" / "find-python"

# Lambda quotas for a .zip deployment package (direct upload / unzipped incl. layers).
MAX_ZIP_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024

# In the Lambda Python runtime already: never ship them (a second botocore is 80 MB).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
# ... and the dependencies those bring, which a shipped package may declare without us shipping them.
RUNTIME_AVAILABLE = RUNTIME_PROVIDED | {"jmespath", "urllib3", "python-dateutil", "six"}

# python3.12/3.13 Lambda runtimes are Amazon Linux 2023 (glibc 2.34). pip --platform does not
# expand compatible tags, so every accepted manylinux tag is passed, newest first.
GLIBC_MAX_MINOR = 34
PIP_ARCH = {"arm64": "aarch64", "x86_64": "x86_64"}

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 6
FILE_MODE = 0o100644
DIR_MODE = 0o040755
DROPPED_DIRS = frozenset({"__pycache__", "tests"})
DROPPED_SUFFIXES = (".pyc", ".pyo")
# Install-time markers pip writes; INSTALLER/REQUESTED say nothing useful, direct_url.json may hold a path.
DROPPED_DIST_INFO = frozenset({"INSTALLER", "REQUESTED", "direct_url.json"})
SHARED_EXCLUDED = ("tests/", "events/schemas/")


class PackagingError(Exception):
    """A service cannot be packaged; the message names the service and the reason."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: str
    extras: frozenset[str]
    source: str  # "file:line" for messages


def python_version(runtime: str) -> str:
    match = re.fullmatch(r"python(3)\.(\d+)", runtime)
    if not match:
        raise PackagingError(f"unsupported runtime {runtime!r} (expected python3.N)")
    return f"{match[1]}.{match[2]}"


def find_python(version: str) -> str | None:
    """The path of a CPython `version` (X.Y) interpreter on this machine (scripts/find-python), or None."""
    proc = subprocess.run([str(FIND_PYTHON), version], capture_output=True, text=True, check=False)
    path = proc.stdout.strip()
    return path if proc.returncode == 0 and path else None


def read_pins(path: Path, label: str | None = None) -> dict[str, Pin]:
    """Exact `name==version` pins of a requirements file; anything else is an error."""
    label = label or path.name
    pins: dict[str, Pin] = {}
    if not path.is_file():
        return pins
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        where = f"{label}:{number}"
        if line.startswith("-"):
            raise PackagingError(f"{where}: {line!r}: options are not supported here, only name==version pins")
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise PackagingError(f"{where}: {line!r}: {exc}") from exc
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version or req.url:
            raise PackagingError(f"{where}: {line!r} is not pinned: write name==version")
        name = canonicalize_name(req.name)
        if name in RUNTIME_PROVIDED:
            raise PackagingError(
                f"{where}: {req.name} is provided by the Lambda Python runtime; remove it "
                "(shipping it adds tens of MB and shadows the runtime's copy)"
            )
        if name in pins:
            raise PackagingError(f"{where}: {req.name} is pinned twice in {label}")
        pins[name] = Pin(name, specs[0].version, frozenset(req.extras), where)
    return pins


def merge_pins(*groups: dict[str, Pin]) -> dict[str, Pin]:
    merged: dict[str, Pin] = {}
    for group in groups:
        for name, pin in group.items():
            other = merged.get(name)
            if other and other.version != pin.version:
                raise PackagingError(
                    f"{name} is pinned to {other.version} ({other.source}) and {pin.version} ({pin.source})"
                )
            merged[name] = Pin(name, pin.version, pin.extras | (other.extras if other else frozenset()), pin.source)
    return merged


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """(posix path relative to root, path) of the files under root, sorted, minus bytecode and tests."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in DROPPED_DIRS and not d.startswith("."))
        base = Path(dirpath)
        for name in sorted(filenames):
            if name.endswith(DROPPED_SUFFIXES) or name.startswith("."):
                continue
            yield (base / name).relative_to(root).as_posix(), base / name


def first_party_files(service: Service, shared_dir: Path) -> dict[str, Path]:
    """Zip path -> file for the service's src/ tree and the shared package."""
    src = service.src_dir
    if not (src / service.name).is_dir():
        raise PackagingError(f"{service.name}: {src} has no package directory {service.name}/")
    files = dict(_walk(src))
    if any(path.split("/", 1)[0] == "shared" for path in files):
        raise PackagingError(f"{service.name}: src/ must not contain a top-level 'shared' (the library goes there)")
    for rel, path in _walk(shared_dir):
        if rel.startswith(SHARED_EXCLUDED) or rel.rsplit("/", 1)[-1] == "README.md":
            continue
        files[f"shared/{rel}"] = path
    return files


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def platform_tags(architecture: str) -> list[str]:
    arch = PIP_ARCH[architecture]
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(GLIBC_MAX_MINOR, 16, -1)]
    return [*tags, f"manylinux2014_{arch}"]


def input_fingerprint(
    service: Service,
    shared_dir: Path,
    constraints: Path,
    files: dict[str, Path] | None = None,
    compiler: Compiler | None = None,
) -> dict:
    """Everything the zip depends on, by content. No mtimes, no absolute paths."""
    files = files if files is not None else first_party_files(service, shared_dir)
    requirement_files = {
        "shared/requirements.txt": shared_dir / "requirements.txt",
        "service/requirements.txt": service.requirements_file,
        "constraints": constraints,
    }
    inputs = {
        "packager": PACKAGER_VERSION,
        "pip": metadata.version("pip"),
        "service": service.name,
        "runtime": service.runtime,
        "architecture": service.architecture,
        "platforms": platform_tags(service.architecture),
        "requirements": {k: _sha256_file(p) if p.is_file() else None for k, p in requirement_files.items()},
        "files": {rel: _sha256_file(path) for rel, path in sorted(files.items())},
        "bytecode": compiler.identity if compiler else None,
    }
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()
    return {"fingerprint": hashlib.sha256(canonical).hexdigest(), "inputs": inputs}


# --------------------------------------------------------------------------- bytecode

# Runs in the target interpreter: compiles [source, name in the zip, output] triples, prints the failures.
_COMPILE = """
import json, py_compile, sys
failed = []
for source, name, output in json.load(sys.stdin):
    try:
        py_compile.compile(source, cfile=output, dfile=name, doraise=True, optimize=0,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError:
        failed.append(name)
json.dump({"failed": failed, "cache_tag": sys.implementation.cache_tag}, sys.stdout)
"""


@dataclass(frozen=True)
class Compiler:
    """The CPython that compiles a zip's bytecode: the manifest runtime's version."""

    python: str  # its path on this machine (not part of the fingerprint)
    version: str  # full version, e.g. 3.12.1
    cache_tag: str  # cpython-312

    @property
    def identity(self) -> str:
        return f"{self.cache_tag} {self.version} unchecked-hash"


def bytecode_compiler(service: Service) -> Compiler:
    """The interpreter for the service's runtime, found by scripts/find-python; an error if there is none."""
    version = python_version(service.runtime)
    python = find_python(version)
    if python is None:
        raise PackagingError(
            f"{service.name}: no python{version} on this machine to compile the bytecode for {service.runtime} "
            f"(scripts/find-python {version} found none): install it (e.g. pyenv install {version}), or build "
            "with --no-bytecode (a different zip, and slower cold starts: DECISIONS.md #12)"
        )
    code = "import json, platform, sys; print(json.dumps([platform.python_version(), sys.implementation.cache_tag]))"
    proc = subprocess.run([python, "-S", "-c", code], capture_output=True, text=True, check=False)
    try:
        full, tag = json.loads(proc.stdout)
    except ValueError:
        raise PackagingError(f"{service.name}: {python} does not run: {proc.stderr.strip()[-300:]}") from None
    if not full.startswith(version + ".") or tag != f"cpython-{version.replace('.', '')}":
        raise PackagingError(f"{service.name}: {python} is {full} ({tag}), not CPython {version}")
    return Compiler(python, full, tag)


def compile_bytecode(service: Service, compiler: Compiler, entries: dict[str, bytes | Path], workdir: Path) -> dict:
    """Zip path -> .pyc file for every .py entry, compiled by `compiler` (unchecked-hash, reproducible).

    A fresh interpreter compiles the sources in sorted order with PYTHONHASHSEED=0 (set and
    frozenset constants are marshalled in hash order), so the same inputs give the same bytes.
    Code objects name the file by its path in the zip (no build path; the import system puts
    the real path back when it loads them). A file that does not compile for this version
    (a Python 2 leftover in a wheel) gets no .pyc: importing it would fail anyway.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    sources = sorted(rel for rel, src in entries.items() if rel.endswith(".py") and isinstance(src, Path))
    jobs = [[str(entries[rel]), rel, str(workdir / f"{i}.pyc")] for i, rel in enumerate(sources)]
    env = {"PYTHONHASHSEED": "0", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    proc = subprocess.run(
        [compiler.python, "-S", "-s", "-c", _COMPILE], input=json.dumps(jobs), capture_output=True, text=True,
        env=env, check=False,
    )  # fmt: skip
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise PackagingError(f"{service.name}: compiling the bytecode failed: {proc.stderr.strip()[-500:]}") from None
    failed = set(result["failed"])
    compiled: dict[str, bytes | Path] = {}
    for i, rel in enumerate(sources):
        if rel in failed:
            continue
        folder, _, name = rel.rpartition("/")
        pyc = f"{folder + '/' if folder else ''}__pycache__/{name[:-3]}.{result['cache_tag']}.pyc"
        compiled[pyc] = workdir / f"{i}.pyc"
    return compiled


# --------------------------------------------------------------------------- third-party


def install_dependencies(
    service: Service, shared_dir: Path, constraints: Path, target: Path, pip_log: Path | None = None
) -> None:
    """pip install the pinned closure for the Lambda platform into `target` (no deps resolution)."""
    cmd = [
        sys.executable, "-m", "pip", "install",
        "--target", str(target),
        "--no-deps", "--only-binary=:all:", "--no-compile",
        "--implementation", "cp",
        "--python-version", python_version(service.runtime),
    ]  # fmt: skip
    for tag in platform_tags(service.architecture):
        cmd += ["--platform", tag]
    cmd += ["--no-input", "--disable-pip-version-check", "--no-warn-script-location", "--progress-bar", "off"]
    if constraints.is_file():
        cmd += ["-c", str(constraints)]
    cmd += ["-r", str(shared_dir / "requirements.txt")]
    if service.requirements_file.is_file():
        cmd += ["-r", str(service.requirements_file)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if pip_log:
        pip_log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        # pip's own warnings about this machine's extra indexes are noise; keep its errors.
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "is ignored: it is neither" not in ln]
        raise PackagingError(
            f"{service.name}: pip could not install the pinned requirements for "
            f"{service.runtime}/{service.architecture}:\n  " + "\n  ".join(lines[-15:])
        )


def _dist_name(dist_info: str) -> str:
    return canonicalize_name(dist_info[: -len(".dist-info")].rsplit("-", 1)[0])


def dependency_files(target: Path) -> dict[str, bytes | Path]:
    """Zip path -> file (or rewritten content) of what pip installed, minus what Lambda never needs."""
    entries: dict[str, bytes | Path] = {}
    dropped: set[str] = set()
    for rel, path in _walk(target):
        parts = rel.split("/")
        if parts[0] == "bin" or (len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in DROPPED_DIST_INFO):
            dropped.add(rel)
            continue
        entries[rel] = path
    # Rewrite each RECORD so it lists exactly the files shipped (pip's order, which is sorted).
    for rel in [r for r in entries if r.endswith(".dist-info/RECORD")]:
        kept = []
        for line in Path(entries[rel]).read_text().splitlines():
            path = next(csv.reader([line]), [""])[0]
            if path.startswith("../") or path in dropped or path.endswith(DROPPED_SUFFIXES):
                continue
            if path not in entries and path != rel:  # e.g. files under a dropped tests/ folder
                continue
            kept.append(line)
        entries[rel] = ("\n".join(kept) + "\n").encode()
    return entries


def check_dependencies(service: Service, target: Path, pins: dict[str, Pin]) -> None:
    """Every pinned package installed at its pin; every dependency they declare is shipped too."""
    installed: dict[str, metadata.Distribution] = {}
    for dist_info in sorted(target.glob("*.dist-info")):
        installed[_dist_name(dist_info.name)] = metadata.Distribution.at(dist_info)
    runtime_provided = sorted(set(installed) & RUNTIME_PROVIDED)
    if runtime_provided:
        raise PackagingError(f"{service.name}: {runtime_provided} must not be shipped (the Lambda runtime has them)")
    for name, pin in pins.items():
        dist = installed.get(name)
        if dist is None or dist.version != pin.version:
            got = dist.version if dist else "nothing"
            raise PackagingError(f"{service.name}: pip installed {got} for {name}=={pin.version} ({pin.source})")

    env = {
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "python_version": python_version(service.runtime),
        "python_full_version": python_version(service.runtime) + ".0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": PIP_ARCH[service.architecture],
    }
    problems = []
    for name, dist in sorted(installed.items()):
        extras = pins[name].extras if name in pins else frozenset()
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker and not any(_marker_true(req.marker, env, extra) for extra in ("", *extras)):
                continue
            dep = canonicalize_name(req.name)
            if dep in installed:
                if not req.specifier.contains(installed[dep].version, prereleases=True):
                    problems.append(f"{name} needs {spec!r} but {dep}=={installed[dep].version} is pinned")
            elif dep not in RUNTIME_AVAILABLE:
                problems.append(f"{name} needs {spec!r}, which is neither pinned nor in the Lambda runtime")
    if problems:
        raise PackagingError(
            f"{service.name}: the pinned requirements are not a complete closure "
            "(they are installed with --no-deps):\n  " + "\n  ".join(problems)
        )


def _marker_true(marker: Marker, env: dict[str, str], extra: str) -> bool:
    return marker.evaluate({**env, "extra": extra})


_EXT_TAG = re.compile(r"\.cpython-(\d+)-([a-z0-9_]+)-linux-gnu\.so$")


def check_native_modules(service: Service, entries: dict[str, bytes | Path]) -> None:
    """Every .so is an ELF for the Lambda architecture and, if version-tagged, for the runtime's CPython."""
    want = LAMBDA_MACHINES[service.architecture]
    want_abi = python_version(service.runtime).replace(".", "")
    for rel, source in entries.items():
        if not rel.endswith(".so") and ".so." not in rel:
            continue
        head = source[:64] if isinstance(source, bytes) else _head(source)
        try:
            machine = elf_machine(head)
        except NotElfError as exc:
            raise PackagingError(f"{service.name}: {rel}: {exc}") from exc
        if machine != want:
            raise PackagingError(
                f"{service.name}: {rel} is built for {machine_name(machine)}, "
                f"not {machine_name(want)} ({service.architecture})"
            )
        tag = _EXT_TAG.search(rel)
        if tag and tag[1] != want_abi:
            raise PackagingError(f"{service.name}: {rel} is for CPython {tag[1]}, not {service.runtime}")


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(64)


# --------------------------------------------------------------------------- zip


def write_zip(entries: dict[str, bytes | Path], dest: Path) -> tuple[int, int]:
    """Deterministic zip of `entries`; returns (number of files, unzipped bytes)."""
    dirs = {rel.rsplit("/", i)[0] + "/" for rel in entries for i in range(1, rel.count("/") + 1)}
    unzipped = 0
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
        for name in sorted(dirs | set(entries)):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # Unix, so external_attr carries the mode
            if name.endswith("/"):
                info.external_attr = (DIR_MODE << 16) | 0x10
                zf.writestr(info, b"", compress_type=zipfile.ZIP_STORED)
                continue
            info.external_attr = FILE_MODE << 16
            source = entries[name]
            data = source if isinstance(source, bytes) else source.read_bytes()
            unzipped += len(data)
            zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
    return len(entries), unzipped


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def check_limits(name: str, zip_bytes: int, unzipped_bytes: int, max_zip: int, max_unzipped: int) -> None:
    if zip_bytes > max_zip or unzipped_bytes > max_unzipped:
        raise PackagingError(
            f"{name}: package too large for Lambda: zipped {zip_bytes} bytes ({_mb(zip_bytes)}, limit {max_zip}), "
            f"unzipped {unzipped_bytes} bytes ({_mb(unzipped_bytes)}, limit {max_unzipped})"
        )


# --------------------------------------------------------------------------- build


@dataclass(frozen=True)
class BuildResult:
    service: str
    status: str  # "built" | "unchanged"
    zip_path: Path
    zip_bytes: int
    unzipped_bytes: int
    files: int
    sha256: str
    seconds: float

    def line(self) -> str:
        status = "unchanged, not rebuilt" if self.status == "unchanged" else "built"
        return (
            f"{self.service}: {status:<22}  zip {_mb(self.zip_bytes):>8}  unzipped {_mb(self.unzipped_bytes):>8}  "
            f"{self.files:>5} files  sha256 {self.sha256[:12]}  {self.seconds:.1f}s"
        )


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _unchanged(service: Service, dist: Path, fingerprint: str, started: float) -> BuildResult | None:
    zip_path = dist / f"{service.name}.zip"
    record_path = dist / f"{service.name}.inputs.json"
    if not (zip_path.is_file() and record_path.is_file()):
        return None
    try:
        record = json.loads(record_path.read_text())
        output = record["output"]
        if record["fingerprint"] != fingerprint or _sha256_file(zip_path) != output["sha256"]:
            return None
    except (ValueError, KeyError, TypeError):
        return None
    if not all((dist / f"{service.name}.zip{ext}").is_file() for ext in (".sha256", ".base64sha256")):
        return None
    return BuildResult(
        service.name, "unchanged", zip_path, output["zip_bytes"], output["unzipped_bytes"], output["files"],
        output["sha256"], time.monotonic() - started,
    )  # fmt: skip


def build_service(
    service: Service,
    dist: Path = DIST_DIR,
    *,
    shared_dir: Path = SHARED_DIR,
    constraints: Path = CONSTRAINTS_FILE,
    max_zip_bytes: int = MAX_ZIP_BYTES,
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
    force: bool = False,
    bytecode: bool = True,
) -> BuildResult:
    """Build dist/<service>.zip unless its inputs are unchanged (or `force`); with .pyc unless not `bytecode`."""
    started = time.monotonic()
    if service.architecture not in PIP_ARCH:
        raise PackagingError(f"{service.name}: unsupported architecture {service.architecture!r}")
    pins = merge_pins(
        read_pins(shared_dir / "requirements.txt", "shared/requirements.txt"),
        read_pins(service.requirements_file, f"services/{service.name}/requirements.txt"),
    )
    files = first_party_files(service, shared_dir)
    compiler = bytecode_compiler(service) if bytecode else None
    fp = input_fingerprint(service, shared_dir, constraints, files, compiler)
    if not force and (result := _unchanged(service, dist, fp["fingerprint"], started)):
        return result

    dist.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"package-{service.name}-") as tmp:
        target = Path(tmp) / "site"
        install_dependencies(service, shared_dir, constraints, target)
        check_dependencies(service, target, pins)
        deps = dependency_files(target)
        clash = sorted({rel.split("/", 1)[0] for rel in deps} & {rel.split("/", 1)[0] for rel in files})
        if clash:
            raise PackagingError(f"{service.name}: third-party files would overwrite first-party ones: {clash}")
        entries: dict[str, bytes | Path] = {**deps, **files}
        check_native_modules(service, entries)
        if compiler:
            entries.update(compile_bytecode(service, compiler, entries, Path(tmp) / "pyc"))
        tmp_zip = Path(tmp) / f"{service.name}.zip"
        count, unzipped = write_zip(entries, tmp_zip)
        zip_bytes = tmp_zip.stat().st_size
        check_limits(service.name, zip_bytes, unzipped, max_zip_bytes, max_unzipped_bytes)
        digest = hashlib.sha256(tmp_zip.read_bytes()).digest()
        zip_path = dist / f"{service.name}.zip"
        # The record goes last: a build interrupted half-way never looks unchanged.
        (dist / f"{service.name}.inputs.json").unlink(missing_ok=True)
        shutil.move(tmp_zip, zip_path.with_name(zip_path.name + ".tmp"))
        os.replace(zip_path.with_name(zip_path.name + ".tmp"), zip_path)
    _write_atomic(dist / f"{service.name}.zip.sha256", f"{digest.hex()}  {service.name}.zip\n".encode())
    _write_atomic(dist / f"{service.name}.zip.base64sha256", base64.b64encode(digest))
    output = {"sha256": digest.hex(), "zip_bytes": zip_bytes, "unzipped_bytes": unzipped, "files": count}
    record = {**fp, "output": output}
    _write_atomic(dist / f"{service.name}.inputs.json", (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    return BuildResult(service.name, "built", zip_path, zip_bytes, unzipped, count, digest.hex(),
                       time.monotonic() - started)  # fmt: skip


def select(services: Iterable[Service], name: str | None) -> list[Service]:
    services = list(services)
    if name is None:
        return services
    for svc in services:
        if svc.name == name:
            return [svc]
    known = ", ".join(s.name for s in services) or "(none)"
    raise PackagingError(f"unknown service {name!r}; known services: {known}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.package", description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", help="build only this service")
    parser.add_argument("--dist", type=Path, default=DIST_DIR, help="output folder (default: dist/)")
    parser.add_argument("--services-dir", type=Path, default=SERVICES_DIR, help="where the services live")
    parser.add_argument("--shared-dir", type=Path, default=SHARED_DIR, help="the shared library package")
    parser.add_argument("--force", action="store_true", help="rebuild even if the inputs are unchanged")
    parser.add_argument(
        "--no-bytecode", action="store_true", help="ship no .pyc (when the runtime's Python is not on this machine)"
    )
    parser.add_argument("--max-zip-bytes", type=int, default=MAX_ZIP_BYTES)
    parser.add_argument("--max-unzipped-bytes", type=int, default=MAX_UNZIPPED_BYTES)
    args = parser.parse_args(argv)
    try:
        services = select(load_services(args.services_dir), args.service)
    except (ManifestError, PackagingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = []
    for svc in services:
        try:
            result = build_service(
                svc, args.dist, shared_dir=args.shared_dir, max_zip_bytes=args.max_zip_bytes,
                max_unzipped_bytes=args.max_unzipped_bytes, force=args.force, bytecode=not args.no_bytecode,
            )  # fmt: skip
        except PackagingError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            failed.append(svc.name)
            continue
        print(result.line(), flush=True)
    if failed:
        print(f"error: packaging failed for {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
