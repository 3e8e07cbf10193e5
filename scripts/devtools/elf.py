"""Read the target machine of an ELF file (a native extension module) from its header.

The packager uses it to prove a zip carries wheels for the Lambda architecture and not
the build machine's:

    >>> from devtools.elf import elf_machine
    >>> elf_machine(Path("_pydantic_core.cpython-312-aarch64-linux-gnu.so").read_bytes()[:64])
    183
"""

from __future__ import annotations

import struct

ELF_MAGIC = b"\x7fELF"
EM_X86_64 = 62
EM_AARCH64 = 183
MACHINE_NAMES = {3: "i386", 40: "arm", EM_X86_64: "x86_64", EM_AARCH64: "aarch64"}
# Lambda architecture (manifest spelling) -> ELF e_machine
LAMBDA_MACHINES = {"arm64": EM_AARCH64, "x86_64": EM_X86_64}


class NotElfError(ValueError):
    """The bytes do not start with an ELF header."""


def elf_machine(header: bytes) -> int:
    """e_machine of an ELF file, given at least its first 20 bytes.

    e_ident[EI_DATA] (byte 5) says the byte order; e_machine is the half-word at offset 18,
    the same for 32- and 64-bit files.
    """
    if len(header) < 20 or header[:4] != ELF_MAGIC:
        raise NotElfError("not an ELF file")
    order = {1: "<", 2: ">"}.get(header[5])
    if order is None:
        raise NotElfError(f"unknown ELF byte order {header[5]}")
    return struct.unpack_from(order + "H", header, 18)[0]


def machine_name(machine: int) -> str:
    return MACHINE_NAMES.get(machine, f"e_machine {machine}")
