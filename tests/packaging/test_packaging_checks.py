"""The packager's checks and building blocks, without pip: pins, file selection, fingerprint,
dependency closure, native module architecture, bytecode, deterministic zip writing, the CLI errors."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import struct
import zipfile
from pathlib import Path

import pytest

from devtools.elf import EM_AARCH64, EM_X86_64, NotElfError, elf_machine
from devtools.manifest import REPO_ROOT, load_services
from devtools.package import (
    Compiler,
    PackagingError,
    bytecode_compiler,
    check_dependencies,
    check_native_modules,
    compile_bytecode,
    find_python,
    first_party_files,
    input_fingerprint,
    main,
    merge_pins,
    platform_tags,
    read_pins,
    write_zip,
)


@pytest.fixture
def webhooks():
    return next(s for s in load_services() if s.name == "webhooks")


def _with_architecture(service, architecture):
    fns = tuple(dataclasses.replace(fn, architecture=architecture) for fn in service.functions)
    return dataclasses.replace(service, functions=fns)


def _elf(machine: int, big_endian: bool = False) -> bytes:
    order = ">" if big_endian else "<"
    return b"\x7fELF" + bytes([2, 2 if big_endian else 1, 1]) + b"\0" * 9 + struct.pack(order + "HH", 3, machine)


# --------------------------------------------------------------------------- pins


def _reqs(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    return path


def test_pins_are_read_with_extras_and_comments(tmp_path):
    pins = read_pins(_reqs(tmp_path, "# header\n\nPydantic_Core==2.50.5  # why\nfoo[bar,baz]==1.0\n"))
    assert {n: p.version for n, p in pins.items()} == {"pydantic-core": "2.50.5", "foo": "1.0"}
    assert pins["foo"].extras == {"bar", "baz"}


@pytest.mark.parametrize("line", ["boto3==1.44.8", "botocore==1.44.8", "S3Transfer==0.19.3"])
def test_runtime_provided_packages_are_refused(tmp_path, line):
    with pytest.raises(PackagingError, match="provided by the Lambda Python runtime"):
        read_pins(_reqs(tmp_path, line + "\n"))


@pytest.mark.parametrize("line", ["pydantic>=2", "pydantic", "pydantic==2.*", "pydantic==2.1,!=2.1.1"])
def test_unpinned_requirements_are_refused(tmp_path, line):
    with pytest.raises(PackagingError, match=r"requirements\.txt:1: .* is not pinned"):
        read_pins(_reqs(tmp_path, line + "\n"))


def test_options_and_duplicates_are_refused(tmp_path):
    with pytest.raises(PackagingError, match="options are not supported"):
        read_pins(_reqs(tmp_path, "--index-url https://example.invalid\n"))
    with pytest.raises(PackagingError, match="pinned twice"):
        read_pins(_reqs(tmp_path, "wrapt==2.5.2\nWrapt==2.5.2\n"))


def test_conflicting_pins_between_shared_and_service_are_refused(tmp_path):
    shared = read_pins(_reqs(tmp_path, "pydantic==2.14.4\n"), "shared/requirements.txt")
    service = read_pins(_reqs(tmp_path, "pydantic==2.13.0\n"), "services/x/requirements.txt")
    with pytest.raises(PackagingError, match=r"pydantic is pinned to 2.14.4 \(shared/requirements.txt:1\) and 2.13.0"):
        merge_pins(shared, service)


def test_platform_tags_cover_amazon_linux_2023_down_to_manylinux2014():
    tags = platform_tags("arm64")
    assert tags[0] == "manylinux_2_34_aarch64" and tags[-1] == "manylinux2014_aarch64"
    assert "manylinux_2_28_aarch64" in tags and "manylinux_2_17_aarch64" in tags
    assert all(t.endswith("_x86_64") for t in platform_tags("x86_64"))


# --------------------------------------------------------------------------- files and fingerprint


def _shared_tree(root: Path) -> Path:
    for rel in ["__init__.py", "README.md", "events/__init__.py", "events/README.md", "events/schemas/a.json",
                "tests/test_x.py", "__pycache__/x.cpython-311.pyc", "events/x.pyc", "py.typed"]:  # fmt: skip
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    return root


def test_first_party_files_leave_out_tests_schemas_readmes_and_bytecode(webhooks, tmp_path):
    shared = _shared_tree(tmp_path / "shared")
    files = first_party_files(webhooks, shared)
    shared_files = sorted(rel for rel in files if rel.startswith("shared/"))
    assert shared_files == ["shared/__init__.py", "shared/events/__init__.py", "shared/py.typed"]
    assert "webhooks/receive.py" in files
    assert not any("__pycache__" in rel or rel.endswith(".pyc") for rel in files)


def test_fingerprint_follows_contents_not_mtimes(webhooks, tmp_path):
    shared = _shared_tree(tmp_path / "shared")
    constraints = REPO_ROOT / "requirements" / "dev.txt"
    first = input_fingerprint(webhooks, shared, constraints)["fingerprint"]
    for path in shared.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert input_fingerprint(webhooks, shared, constraints)["fingerprint"] == first
    (shared / "README.md").write_text("docs are not shipped")  # excluded file: no rebuild
    assert input_fingerprint(webhooks, shared, constraints)["fingerprint"] == first
    (shared / "__init__.py").write_text("VERSION = 2\n")
    assert input_fingerprint(webhooks, shared, constraints)["fingerprint"] != first
    other = input_fingerprint(_with_architecture(webhooks, "x86_64"), shared, constraints)["fingerprint"]
    assert other != input_fingerprint(webhooks, shared, constraints)["fingerprint"]


# --------------------------------------------------------------------------- dependency closure


def _dist(target: Path, name: str, version: str, *requires: str) -> None:
    info = target / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def _pins(tmp_path: Path, text: str):
    folder = tmp_path / "pins"
    folder.mkdir(exist_ok=True)
    return read_pins(_reqs(folder, text))


def test_closure_accepts_runtime_provided_and_inactive_markers(webhooks, tmp_path):
    site = tmp_path / "site"
    _dist(site, "aws-xray-sdk", "2.15.0", "botocore>=1.11.3", "wrapt")
    _dist(site, "wrapt", "2.5.2")
    _dist(site, "pydantic", "2.14.4", 'tzdata; python_version >= "3.9" and platform_system == "Windows"',
          'email-validator>=2.0.0; extra == "email"')  # fmt: skip
    pins = _pins(tmp_path, "aws-xray-sdk==2.15.0\nwrapt==2.5.2\npydantic==2.14.4\n")
    check_dependencies(webhooks, site, pins)


def test_closure_reports_missing_and_mismatched_dependencies(webhooks, tmp_path):
    site = tmp_path / "site"
    _dist(site, "pydantic", "2.14.4", "pydantic-core==2.50.5", "annotated-types>=0.6.0",
          'email-validator>=2.0.0; extra == "email"')  # fmt: skip
    _dist(site, "pydantic-core", "2.50.4")
    pins = _pins(tmp_path, "pydantic[email]==2.14.4\npydantic-core==2.50.4\n")
    with pytest.raises(PackagingError) as err:
        check_dependencies(webhooks, site, pins)
    message = str(err.value)
    assert "pydantic needs 'pydantic-core==2.50.5' but pydantic-core==2.50.4 is pinned" in message
    assert "annotated-types>=0.6.0" in message and "neither pinned nor in the Lambda runtime" in message
    assert "email-validator" in message  # the [email] extra was asked for


def test_closure_reports_what_pip_did_not_install(webhooks, tmp_path):
    site = tmp_path / "site"
    _dist(site, "wrapt", "2.5.1")
    with pytest.raises(PackagingError, match=r"pip installed 2.5.1 for wrapt==2.5.2"):
        check_dependencies(webhooks, site, _pins(tmp_path, "wrapt==2.5.2\n"))


# --------------------------------------------------------------------------- native modules


def test_elf_machine_reads_both_byte_orders():
    assert elf_machine(_elf(EM_AARCH64)) == 183
    assert elf_machine(_elf(EM_X86_64, big_endian=True)) == 62
    with pytest.raises(NotElfError):
        elf_machine(b"MZ\x90\0" + b"\0" * 60)


def test_native_modules_must_match_architecture_and_python(webhooks):
    arm = {"pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so": _elf(EM_AARCH64)}
    check_native_modules(webhooks, arm)
    with pytest.raises(PackagingError, match="built for aarch64, not x86_64"):
        check_native_modules(_with_architecture(webhooks, "x86_64"), arm)
    with pytest.raises(PackagingError, match="built for x86_64, not aarch64"):
        check_native_modules(webhooks, {"x/_x.abi3.so": _elf(EM_X86_64)})
    with pytest.raises(PackagingError, match=r"is for CPython 311, not python3\.12"):
        check_native_modules(webhooks, {"x/_x.cpython-311-aarch64-linux-gnu.so": _elf(EM_AARCH64)})


# --------------------------------------------------------------------------- bytecode

PYTHON_312 = find_python("3.12")
needs_312 = pytest.mark.skipif(PYTHON_312 is None, reason="no python3.12 here (scripts/find-python 3.12)")


def test_the_runtime_interpreter_compiles_and_a_missing_one_fails_the_build_naming_it(webhooks, monkeypatch):
    if PYTHON_312 is not None:
        compiler = bytecode_compiler(webhooks)
        assert compiler.cache_tag == "cpython-312" and compiler.version.startswith("3.12.")
        assert compiler.python not in compiler.identity  # no machine path in the fingerprint
    monkeypatch.setattr("devtools.package.find_python", lambda version: None)
    with pytest.raises(PackagingError, match=r"webhooks: no python3\.12 on this machine .* --no-bytecode"):
        bytecode_compiler(webhooks)


def test_the_fingerprint_names_the_compiler(webhooks, tmp_path):
    shared = _shared_tree(tmp_path / "shared")
    constraints = REPO_ROOT / "requirements" / "dev.txt"
    plain = input_fingerprint(webhooks, shared, constraints)

    def with_compiler(path: str, version: str) -> dict:
        return input_fingerprint(webhooks, shared, constraints, compiler=Compiler(path, version, "cpython-312"))

    first, other, newer = (
        with_compiler("/x/py", "3.12.1"),
        with_compiler("/y/py", "3.12.1"),
        with_compiler("/x/py", "3.12.9"),
    )
    assert plain["inputs"]["bytecode"] is None and first["inputs"]["bytecode"] == "cpython-312 3.12.1 unchecked-hash"
    assert first["fingerprint"] == other["fingerprint"]  # where the interpreter lives does not matter
    assert len({plain["fingerprint"], first["fingerprint"], newer["fingerprint"]}) == 3


@needs_312
def test_bytecode_is_unchecked_hash_reproducible_and_names_no_build_path(webhooks, tmp_path):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "mod.py").write_text("CODES = {'a', 'b', 'c', 'd'}\ndef f():\n    return 'x' in CODES\n")
    (src / "top.py").write_text("X = 1\n")
    (src / "py2.py").write_text("print 'old'\n")  # a Python 2 leftover in a wheel: no .pyc, no failure
    entries = {"pkg/mod.py": src / "pkg" / "mod.py", "top.py": src / "top.py", "py2.py": src / "py2.py",
               "pkg/data.json": b"{}"}  # fmt: skip
    compiler = bytecode_compiler(webhooks)
    one = compile_bytecode(webhooks, compiler, entries, tmp_path / "one")
    two = compile_bytecode(webhooks, compiler, entries, tmp_path / "two")
    assert sorted(one) == ["__pycache__/top.cpython-312.pyc", "pkg/__pycache__/mod.cpython-312.pyc"]
    for name, path in one.items():
        data = path.read_bytes()
        assert data == two[name].read_bytes()  # set constants marshal in hash order: PYTHONHASHSEED is fixed
        assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, source never checked
        assert str(tmp_path).encode() not in data
    assert b"pkg/mod.py" in one["pkg/__pycache__/mod.cpython-312.pyc"].read_bytes()  # the path in the zip


# --------------------------------------------------------------------------- zip


def test_write_zip_ignores_mtimes_and_modes(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "b.py").write_text("b = 1\n")
    (src / "a.so").write_bytes(b"\x7fELF")
    entries = {"pkg/b.py": src / "b.py", "pkg/sub/a.so": src / "a.so", "top.py": b"x = 1\n"}
    count, unzipped = write_zip(entries, tmp_path / "one.zip")
    os.chmod(src / "a.so", 0o700)
    os.utime(src / "b.py", (2_000_000_000, 2_000_000_000))
    write_zip(dict(reversed(entries.items())), tmp_path / "two.zip")
    one, two = (hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in ("one.zip", "two.zip"))
    assert one == two
    assert (count, unzipped) == (3, 6 + 4 + 6)
    names = zipfile.ZipFile(tmp_path / "one.zip").namelist()
    assert names == ["pkg/", "pkg/b.py", "pkg/sub/", "pkg/sub/a.so", "top.py"]


# --------------------------------------------------------------------------- CLI


def test_unknown_service_lists_known_ones(capsys):
    assert main(["--service", "nope"]) != 0
    err = capsys.readouterr().err
    assert "unknown service 'nope'" in err and "webhooks" in err


def test_bad_requirements_fail_before_pip(tmp_path, capsys):
    import shutil

    services = tmp_path / "services"
    shutil.copytree(REPO_ROOT / "services" / "webhooks", services / "webhooks")
    (services / "webhooks" / "requirements.txt").write_text("boto3==1.44.8\n")
    assert main(["--services-dir", str(services), "--dist", str(tmp_path / "dist")]) == 1
    err = capsys.readouterr().err
    assert "services/webhooks/requirements.txt:1: boto3 is provided by the Lambda Python runtime" in err
    assert not (tmp_path / "dist").exists()
