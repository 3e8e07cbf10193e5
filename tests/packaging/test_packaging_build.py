"""Real builds of the webhooks service with pip for the Lambda platform (arm64 and x86_64).

pip runs are the slow part, so each build happens once: module-scoped fixtures, and one
xdist group so a parallel run keeps them on one worker. The zips carry bytecode compiled by
python3.12 (the manifest's runtime) when this machine has one; otherwise they are built with
`--no-bytecode` and the bytecode tests say they were skipped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest
import yaml

from devtools.elf import EM_AARCH64, EM_X86_64, elf_machine
from devtools.manifest import REPO_ROOT, load_services
from devtools.package import (
    _unchanged,
    build_service,
    bytecode_compiler,
    find_python,
    input_fingerprint,
    main,
    read_pins,
)

pytestmark = [pytest.mark.packaging, pytest.mark.xdist_group("packaging")]

SERVICE = "webhooks"
PYTHON = find_python("3.12")  # the manifest's runtime
BYTECODE = PYTHON is not None
needs_bytecode = pytest.mark.skipif(not BYTECODE, reason="no python3.12 here: zips built with --no-bytecode")
NO_BYTECODE = [] if BYTECODE else ["--no-bytecode"]


def _snapshot(dest: Path, source: Path = REPO_ROOT, architecture: str | None = None) -> tuple[Path, Path]:
    """Copy the webhooks service and shared/ (others may be editing them while the tests run)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    services, shared = dest / "services", dest / "shared"
    shutil.copytree(source / "services" / SERVICE, services / SERVICE, ignore=ignore)
    shutil.copytree(source / "shared", shared, ignore=ignore)
    if architecture:
        manifest = services / SERVICE / "service.yaml"
        data = yaml.safe_load(manifest.read_text())
        data["architecture"] = architecture
        manifest.write_text(yaml.safe_dump(data))
    return services, shared


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """(services dir, shared dir) frozen for the whole module."""
    return _snapshot(tmp_path_factory.mktemp("inputs"))


def _build(services: Path, shared: Path, dist: Path):
    svc = load_services(services)[0]
    result = build_service(svc, dist, shared_dir=shared, bytecode=BYTECODE)
    return result, zipfile.ZipFile(result.zip_path)


@pytest.fixture(scope="module")
def arm64(inputs, tmp_path_factory):
    return _build(*inputs, tmp_path_factory.mktemp("dist-arm64"))


@pytest.fixture(scope="module")
def x86(inputs, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("x86")
    services, shared = _snapshot(tmp, inputs[0].parent, architecture="x86_64")
    assert load_services(services)[0].architecture == "x86_64"
    return _build(services, shared, tmp / "dist")


def _native_modules(zf: zipfile.ZipFile, package: str) -> dict[str, int]:
    return {
        name: elf_machine(zf.read(name)[:64])
        for name in zf.namelist()
        if name.startswith(package + "/") and name.endswith(".so")
    }


def test_arm64_zip_has_code_shared_and_aarch64_wheels(arm64):
    result, zf = arm64
    names = zf.namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert {"shared", "webhooks", "pydantic", "pydantic_core", "aws_lambda_powertools"} <= tops
    assert "webhooks/receive.py" in names and "shared/__init__.py" in names
    so = _native_modules(zf, "pydantic_core")
    assert so and set(so.values()) == {EM_AARCH64}, so
    assert all("cpython-312-aarch64-linux-gnu" in n for n in so)
    assert result.status == "built" and result.files == sum(1 for n in names if not n.endswith("/"))


def test_arm64_zip_leaves_out_runtime_packages_tests_and_scripts(arm64):
    _, zf = arm64
    for name in zf.namelist():
        parts = name.rstrip("/").split("/")
        assert parts[0].split("-")[0] not in {"boto3", "botocore", "s3transfer", "bin"}, name
        assert "tests" not in parts, name
        assert not name.endswith(".pyo"), name
        assert parts[-1] not in {"INSTALLER", "REQUESTED", "direct_url.json"}, name


def _bytecode_of(source: str) -> str:
    folder, _, name = source.rpartition("/")
    return f"{folder + '/' if folder else ''}__pycache__/{name[:-3]}.cpython-312.pyc"


@needs_bytecode
def test_every_module_ships_unchecked_hash_bytecode_of_the_runtime_python(arm64):
    _, zf = arm64
    names = set(zf.namelist())
    sources = {n for n in names if n.endswith(".py")}
    compiled = {n for n in names if n.endswith(".pyc")}
    assert compiled == {_bytecode_of(s) for s in sources}  # one per module, none without its source
    magic = subprocess.run(
        [PYTHON, "-c", "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in ("webhooks/__pycache__/receive.cpython-312.pyc", "shared/events/__pycache__/base.cpython-312.pyc"):
        header = zf.read(name)[:16]
        assert header[:4].hex() == magic, name
        assert int.from_bytes(header[4:8], "little") == 0b01, name  # hash-based, never checked against the source


@needs_bytecode
def test_without_bytecode_flag_the_zip_has_none(inputs, tmp_path):
    services, shared = inputs
    svc = load_services(services)[0]
    result = build_service(svc, tmp_path / "dist", shared_dir=shared, bytecode=False)
    names = zipfile.ZipFile(result.zip_path).namelist()
    assert not any(n.endswith(".pyc") or "__pycache__" in n for n in names)


def test_zip_is_normalized(arm64):
    _, zf = arm64
    infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
        mode = info.external_attr >> 16
        assert mode == (0o40755 if info.is_dir() else 0o100644), (info.filename, oct(mode))


def test_no_build_paths_inside_and_record_matches_contents(arm64):
    result, zf = arm64
    needles = [str(REPO_ROOT).encode(), str(result.zip_path.parent.parent).encode(), b"package-webhooks-"]
    names = set(zf.namelist())
    for name in names:
        data = zf.read(name)
        assert not any(n in data for n in needles), name
        if name.endswith(".dist-info/RECORD"):
            listed = {line.split(",")[0] for line in data.decode().splitlines()}
            assert name in listed and listed <= names, listed - names


def test_hash_files_match_the_zip(arm64):
    result, _ = arm64
    digest = hashlib.sha256(result.zip_path.read_bytes()).digest()
    dist = result.zip_path.parent
    assert (dist / "webhooks.zip.sha256").read_text() == f"{digest.hex()}  webhooks.zip\n"
    assert (dist / "webhooks.zip.base64sha256").read_text() == base64.b64encode(digest).decode()
    record = json.loads((dist / "webhooks.inputs.json").read_text())
    assert record["output"]["sha256"] == digest.hex() == result.sha256


def test_resolved_versions_equal_the_pins(arm64, inputs):
    _, zf = arm64
    resolved = {}
    for name in zf.namelist():
        if name.endswith(".dist-info/METADATA"):
            meta = HeaderParser().parsestr(zf.read(name).decode())
            resolved[meta["Name"].lower().replace("_", "-")] = meta["Version"]
    services, shared = inputs
    pins = read_pins(shared / "requirements.txt") | read_pins(services / SERVICE / "requirements.txt")
    assert resolved == {name: pin.version for name, pin in pins.items()}


@needs_bytecode
def test_handlers_load_from_the_read_only_unzipped_package_with_its_bytecode(x86, arm64, tmp_path):
    """What Lambda does: python3.12, the zip unzipped read-only, nothing written. The sources are
    replaced by syntax errors after unzipping: the imports still work, so the .pyc were used."""
    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine())
    zf = {"x86_64": x86, "arm64": arm64}.get(machine or "", (None, None))[1]
    if zf is None:
        pytest.skip(f"no zip for this CPU ({platform.machine()})")
    task = tmp_path / "task"
    zf.extractall(task)
    for module in ("webhooks/receive.py", "shared/events/base.py"):
        (task / module).write_text("this is not python\n")
    for path in [*task.rglob("*"), task]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        code = "import sys; sys.path[:0] = ['.']; import webhooks.receive, shared.events.base; print('ok')"
        env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "AWS_REGION": "eu-west-1",
               "TABLE_DELIVERIES": "x", "EVENT_BUS_NAME": "x"}  # fmt: skip
        proc = subprocess.run(
            [PYTHON, "-S", "-c", code], cwd=task, env=env, capture_output=True, text=True, check=False
        )
    finally:
        for path in [task, *task.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_x86_64_build_ships_x86_64_native_modules(x86, arm64):
    result, zf = x86
    so = _native_modules(zf, "pydantic_core")
    assert so and set(so.values()) == {EM_X86_64}, so
    assert all("cpython-312-x86_64-linux-gnu" in n for n in so)
    assert result.sha256 != arm64[0].sha256


def test_rebuild_elsewhere_with_new_mtimes_and_umask_is_identical(arm64, inputs, tmp_path):
    result, _ = arm64
    services, shared = _snapshot(tmp_path, inputs[0].parent)
    for root in (services, shared):
        for path in root.rglob("*"):
            os.utime(path, (1_900_000_000, 1_900_000_000))
    dist = tmp_path / "dist"
    code = (
        "import os, sys; os.umask(0o077); from devtools.package import main; "
        f"sys.exit(main(['--services-dir', {str(services)!r}, '--shared-dir', {str(shared)!r}, "
        f"'--dist', {str(dist)!r}, *{NO_BYTECODE!r}]))"
    )
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'scripts'}"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("webhooks: built"), proc.stdout
    first = json.loads((result.zip_path.parent / "webhooks.inputs.json").read_text())
    second = json.loads((dist / "webhooks.inputs.json").read_text())
    assert second["fingerprint"] == first["fingerprint"]
    assert (dist / "webhooks.zip.sha256").read_text() == (result.zip_path.parent / "webhooks.zip.sha256").read_text()
    assert (dist / "webhooks.zip").read_bytes() == result.zip_path.read_bytes()


def test_second_run_is_unchanged_and_does_not_touch_the_zip(arm64, inputs, capsys):
    result, _ = arm64
    services, shared = inputs
    before = result.zip_path.stat()
    for path in shared.rglob("*"):
        os.utime(path)  # touched, same contents
    args = ["--service", SERVICE, "--services-dir", str(services), "--shared-dir", str(shared), *NO_BYTECODE]
    assert main([*args, "--dist", str(result.zip_path.parent)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("webhooks: unchanged, not rebuilt"), out
    after = result.zip_path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_damaged_zip_is_rebuilt_not_trusted(arm64, inputs, tmp_path):
    result, _ = arm64
    services, shared = inputs
    dist = tmp_path / "dist"
    shutil.copytree(result.zip_path.parent, dist)
    svc = load_services(services)[0]
    compiler = bytecode_compiler(svc) if BYTECODE else None
    fp = input_fingerprint(svc, shared, REPO_ROOT / "requirements" / "dev.txt", compiler=compiler)["fingerprint"]
    assert _unchanged(svc, dist, fp, 0.0) is not None
    with (dist / "webhooks.zip").open("ab") as fh:
        fh.write(b"\0")
    assert _unchanged(svc, dist, fp, 0.0) is None


def test_too_large_fails_naming_service_sizes_and_limit(inputs, tmp_path, capsys):
    dist = tmp_path / "dist"
    services, shared = inputs
    args = ["--services-dir", str(services), "--shared-dir", str(shared), "--dist", str(dist), *NO_BYTECODE]
    code = main([*args, "--max-zip-bytes", "100000"])
    err = capsys.readouterr().err
    assert code != 0
    assert "webhooks: package too large for Lambda" in err
    assert re.search(r"zipped \d+ bytes .*limit 100000\), unzipped \d+ bytes .*limit 262144000", err), err
    assert not (dist / "webhooks.zip").exists() and not (dist / "webhooks.inputs.json").exists()
