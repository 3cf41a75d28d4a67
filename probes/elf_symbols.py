"""Function symbols and USDT notes of ELF files (read with compiler/elf.py),
and the resolution of uprobe targets (`bash`, `libc`) to paths. Only 64-bit
little-endian ELF (x86-64, arm64) is read."""

from __future__ import annotations

import functools
import glob
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass

from auger.compiler.elf import SHT_DYNSYM, SHT_NOTE, SHT_SYMTAB, STT_FUNC, STT_GNU_IFUNC, ElfError, ElfFile

from .base import ProbeError

NT_STAPSDT = 3
_STAPSDT_ADDRESSES = struct.Struct("<QQQ")  # probe address, link-time .stapsdt.base, semaphore


@dataclass(frozen=True)
class UsdtNote:
    """One USDT probe site: `address` is where the probe is (a virtual
    address of the file), `semaphore` the address of its enabling counter
    (0 for none), `arguments` the note's argument text (`-4@%eax 8@(%rbx)`),
    one `SIZE@LOCATION` per argument (probes/usdt_arguments.py reads it)."""

    provider: str
    name: str
    address: int
    semaphore: int
    arguments: str

    @property
    def argument_count(self) -> int:
        return len(self.arguments.split())


@functools.lru_cache(maxsize=4)  # holds whole files: symbols and notes are cached below
def _elf(path: str) -> ElfFile | None:
    """The ELF file at `path`; None when it is unreadable, not ELF, or too
    malformed to read: such a file has no symbols and no notes."""
    try:
        return ElfFile.read(path)
    except ElfError:
        return None


def is_elf(path: str) -> bool:
    return _elf(path) is not None


@functools.lru_cache(maxsize=64)
def function_symbols(path: str) -> dict[str, int]:
    """Defined function symbols (.symtab and .dynsym) by name, with their
    addresses; empty when `path` is not a readable, well-formed ELF file."""
    elf = _elf(path)
    if elf is None:
        return {}
    symbols: dict[str, int] = {}
    try:
        for table in elf.sections_of_type(SHT_SYMTAB) + elf.sections_of_type(SHT_DYNSYM):
            for symbol in elf.symbols(table):
                if symbol.type in (STT_FUNC, STT_GNU_IFUNC) and symbol.section_index != 0 and symbol.name:
                    symbols.setdefault(symbol.name, symbol.value)
    except ElfError:
        return {}
    return symbols


@functools.lru_cache(maxsize=64)
def usdt_notes(path: str) -> tuple[UsdtNote, ...]:
    """The USDT probes in .note.stapsdt, addresses adjusted for prelinking
    by the .stapsdt.base section as SystemTap defines it; empty when `path`
    is not a readable, well-formed ELF file."""
    elf = _elf(path)
    if elf is None:
        return ()
    base_section = elf.section(".stapsdt.base")
    notes = []
    try:
        for section in elf.sections_of_type(SHT_NOTE):
            if section.name != ".note.stapsdt":
                continue
            for note in elf.notes(section):
                if note.type != NT_STAPSDT or note.name != b"stapsdt\0" or len(note.description) < _STAPSDT_ADDRESSES.size:
                    continue
                address, link_base, semaphore = _STAPSDT_ADDRESSES.unpack_from(note.description)
                texts = note.description[_STAPSDT_ADDRESSES.size:].split(b"\0")
                provider, name, arguments = (text.decode("utf-8", "replace") for text in (texts + [b"", b"", b""])[:3])
                if base_section is not None and link_base:
                    # Prelinking moved the probe and its semaphore alike.
                    address += base_section.address - link_base
                    semaphore += base_section.address - link_base if semaphore else 0
                notes.append(UsdtNote(provider, name, address, semaphore, arguments))
    except ElfError:
        return ()
    return tuple(notes)


_LIBRARY_DIRECTORIES = (
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib",
)


@functools.lru_cache(maxsize=1)
def _ld_cache() -> tuple[tuple[str, str], ...]:
    """(soname, path) pairs of `ldconfig -p`, 64-bit entries first."""
    for command in ("ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"):
        try:
            output = subprocess.run([command, "-p"], capture_output=True, text=True, timeout=10).stdout
            break
        except (OSError, subprocess.SubprocessError):
            continue
    else:
        return ()
    entries = []
    for line in output.splitlines()[1:]:
        if "=>" not in line:
            continue
        left, path = line.split("=>", 1)
        soname, _, flags = left.strip().partition(" ")
        entries.append((("64" not in flags), soname, path.strip()))
    return tuple((soname, path) for _, soname, path in sorted(entries, key=lambda entry: entry[0]))


def resolve_library(name: str) -> str | None:
    """A library named as in `uprobe:libc:malloc` (`libc`, `libssl.so.3`) to
    its path, through the ld.so cache and then the standard directories."""
    prefix = name if ".so" in name else f"{name}.so"
    for soname, path in _ld_cache():
        if soname.startswith(prefix):
            return path
    for directory in _LIBRARY_DIRECTORIES:
        candidates = sorted(glob.glob(os.path.join(directory, prefix + "*")))
        if candidates:
            return candidates[0]
    return None


def resolve_binary(target: str, kind: str) -> str:
    """A uprobe/usdt target to a path: a path as given, `libNAME` through the
    library search, else a program on $PATH. `kind` names the probe kind in
    the error."""
    if "/" in target:
        path: str | None = target
    else:
        path = (resolve_library(target) if target.startswith("lib") else None) or shutil.which(target)
    # Like bpftrace, a file that is no (well-formed) ELF file is no target.
    if path is None or not os.path.isfile(path) or not os.access(path, os.R_OK) or not is_elf(path):
        raise ProbeError(f"{kind} target file '{target}' does not exist or is not executable")
    return path
