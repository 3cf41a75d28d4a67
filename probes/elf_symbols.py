"""Function symbols and USDT notes of ELF files, read with `struct` (no
pyelftools), and the resolution of uprobe targets (`bash`, `libc`) to paths.
Only 64-bit little-endian ELF (x86-64, arm64) is read."""

from __future__ import annotations

import functools
import glob
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass

from .base import ProbeError

SHT_SYMTAB = 2
SHT_NOTE = 7
SHT_DYNSYM = 11
STT_FUNC = 2
STT_GNU_IFUNC = 10
NT_STAPSDT = 3

_ELF_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION_HEADER = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")


@dataclass(frozen=True)
class Section:
    name: str
    type: int
    address: int
    offset: int
    size: int
    link: int


@dataclass(frozen=True)
class UsdtNote:
    """One USDT probe site: `arguments` is the note's argument text
    (`-4@%eax 8@(%rbx)`), one `SIZE@LOCATION` per argument."""

    provider: str
    name: str
    address: int
    semaphore: int
    arguments: str

    @property
    def argument_count(self) -> int:
        return len(self.arguments.split())


def _read_elf(path: str) -> tuple[bytes, list[Section]] | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    if len(data) < _ELF_HEADER.size or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    header = _ELF_HEADER.unpack_from(data)
    section_offset, section_count, names_index = header[6], header[12], header[13]
    raw = [_SECTION_HEADER.unpack_from(data, section_offset + i * _SECTION_HEADER.size) for i in range(section_count)]
    if not raw or names_index >= len(raw):
        return None
    names_offset = raw[names_index][4]
    sections = [
        Section(_c_string(data, names_offset + entry[0]), entry[1], entry[3], entry[4], entry[5], entry[6])
        for entry in raw
    ]
    return data, sections


def _c_string(data: bytes, offset: int) -> str:
    end = data.find(b"\0", offset)
    return data[offset:end].decode("utf-8", "replace")


@functools.lru_cache(maxsize=64)
def function_symbols(path: str) -> dict[str, int]:
    """Defined function symbols (.symtab and .dynsym) by name, with their
    addresses; empty when `path` is not a readable ELF file."""
    elf = _read_elf(path)
    if elf is None:
        return {}
    data, sections = elf
    symbols: dict[str, int] = {}
    for section in sections:
        if section.type not in (SHT_SYMTAB, SHT_DYNSYM) or section.link >= len(sections):
            continue
        strings = sections[section.link].offset
        table = memoryview(data)[section.offset:section.offset + section.size]
        for name_offset, info, _other, section_index, value, _size in _SYMBOL.iter_unpack(table[: len(table) // _SYMBOL.size * _SYMBOL.size]):
            if info & 0xF in (STT_FUNC, STT_GNU_IFUNC) and section_index != 0 and name_offset:
                symbols.setdefault(_c_string(data, strings + name_offset), value)
    return symbols


@functools.lru_cache(maxsize=64)
def usdt_notes(path: str) -> tuple[UsdtNote, ...]:
    """The USDT probes in .note.stapsdt, addresses adjusted for prelinking
    by the .stapsdt.base section as SystemTap defines it."""
    elf = _read_elf(path)
    if elf is None:
        return ()
    data, sections = elf
    base = next((section.address for section in sections if section.name == ".stapsdt.base"), None)
    notes = []
    for section in sections:
        if section.type != SHT_NOTE or section.name != ".note.stapsdt":
            continue
        position, end = section.offset, section.offset + section.size
        while position + 12 <= end:
            name_size, description_size, note_type = struct.unpack_from("<III", data, position)
            name_start = position + 12
            description_start = name_start + (name_size + 3) // 4 * 4
            position = description_start + (description_size + 3) // 4 * 4
            if note_type != NT_STAPSDT or data[name_start:name_start + name_size] != b"stapsdt\0":
                continue
            address, link_base, semaphore = struct.unpack_from("<QQQ", data, description_start)
            texts = data[description_start + 24:description_start + description_size].split(b"\0")
            provider, name, arguments = (text.decode("utf-8", "replace") for text in (texts + [b"", b"", b""])[:3])
            if base is not None and link_base:
                address += base - link_base
            notes.append(UsdtNote(provider, name, address, semaphore, arguments))
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
    if path is None or not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ProbeError(f"{kind} target file '{target}' does not exist or is not executable")
    return path
