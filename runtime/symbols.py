"""Addresses to symbols, as bpftrace shows them: kernel addresses through
/proc/kallsyms, user addresses through the process's memory map
(/proc/PID/maps) and the mapped file's ELF symbols (compiler/elf.py).

    kernel_symbol(address) -> Resolved | None     ksym, kstack frames
    user_symbol(pid, address) -> Resolved | None  usym, ustack frames
    stack_value(stack_type, addresses, pid) -> format.values.Stack

Resolution happens when a value is printed, so a user address of a process
that has exited by then stays unresolved (printed as its hex address), as
in bpftrace. Everything read is cached: the kernel's table once per auger
run (read at the first kernel address, after auger's own programs are
loaded), a process's memory map per pid (read again when the pid names a
new process, or at most once a second when an address lies outside every
known mapping), a file's
symbol table per file (device and inode), so that many processes of one
binary share it.
"""

from __future__ import annotations

import bisect
import ctypes
import time
from functools import lru_cache
from typing import Sequence

from auger.compiler.elf import SHT_DYNSYM, SHT_SYMTAB, STT_FUNC, STT_GNU_IFUNC, ElfError, ElfFile
from auger.compiler.frozen import Value as FrozenValue, frozen
from auger.compiler.types import StackType

from .format import values

KALLSYMS = "/proc/kallsyms"
LIBSTDCXX = "libstdc++.so.6"
VDSO = "[vdso]"  # its mapping's name, and the module its frames print
_SHF_ALLOC = 0x2
_SHT_NOBITS = 8


@frozen
class Resolved(FrozenValue):
    """The symbol an address lies in: `offset` bytes past its start;
    `module` is the mapped file of a user address."""

    name: str
    offset: int
    module: str | None = None


class _Table:
    """Symbols sorted by start address: `sizes[i]` 0 means unknown (kallsyms
    has none), so the nearest symbol below an address is taken."""

    def __init__(self, entries: list[tuple[int, int, str]]):
        entries.sort(key=lambda entry: entry[0])  # stable: the first name given for an address wins
        self.starts = [start for start, _, _ in entries]
        self.sizes = [size for _, size, _ in entries]
        self.names = [name for _, _, name in entries]

    def find(self, address: int) -> tuple[str, int] | None:
        index = bisect.bisect_right(self.starts, address) - 1
        while index > 0 and self.starts[index - 1] == self.starts[index]:
            index -= 1  # aliases: the first one
        if index < 0:
            return None
        start, size = self.starts[index], self.sizes[index]
        if size and address >= start + size:
            return None
        return self.names[index], address - start


# ------------------------------------------------------------------ kernel


@lru_cache(maxsize=1)
def _kernel_table() -> _Table:
    entries = []
    try:
        with open(KALLSYMS) as symbols:
            for line in symbols:
                fields = line.split()
                if len(fields) >= 3 and int(fields[0], 16):  # all zero: addresses hidden (kptr_restrict)
                    entries.append((int(fields[0], 16), 0, fields[2]))
    except (OSError, ValueError):
        pass
    return _Table(entries)


def kernel_symbol(address: int) -> Resolved | None:
    """The kernel symbol at or below `address` (None below the first one)."""
    found = _kernel_table().find(address)
    return Resolved(*found) if found is not None else None


# ------------------------------------------------------------------ user


@frozen
class _Mapping(FrozenValue):
    start: int
    end: int
    file_offset: int
    device: str
    inode: int
    path: str


@frozen
class _ElfSymbols(FrozenValue):
    """A file's function symbols and how file offsets become their
    addresses: (file offset, size, address) of each loaded section."""

    table: _Table
    sections: tuple[tuple[int, int, int], ...]

    def find(self, file_offset: int) -> tuple[str, int] | None:
        for offset, size, address in self.sections:
            if offset <= file_offset < offset + size:
                return self.table.find(file_offset - offset + address)
        return None


@frozen
class _ProcessMaps(FrozenValue):
    identity: str  # the process's start time: a reused pid is another process
    read_at: float
    mappings: tuple[_Mapping, ...]


_process_maps: dict[int, _ProcessMaps] = {}
_MAPS_REREAD_SECONDS = 1.0
_files: dict[tuple[str, int], _ElfSymbols | None] = {}
_FILES_CACHED = 64


def user_symbol(pid: int, address: int) -> Resolved | None:
    """The function of process `pid` that `address` lies in; None when the
    process is gone, the address is in no mapped file, or the file has no
    symbol there."""
    mapping = _mapping_of(pid, address)
    if mapping is None:
        return None
    symbols = _file_symbols(pid, mapping)
    found = symbols.find(address - mapping.start + mapping.file_offset) if symbols is not None else None
    return Resolved(demangled(found[0]), found[1], mapping.path) if found is not None else None


def _mapping_of(pid: int, address: int) -> _Mapping | None:
    """The mapping holding `address`. An address outside every known one
    may lie in a library loaded since: the map is read again, but at most
    once a second, as stacks hold many junk frames a map never covers."""
    identity = _start_time(pid)
    if identity is None:
        _process_maps.pop(pid, None)
        return None
    cached = _process_maps.get(pid)
    now = time.monotonic()
    for refresh in (False, True):
        stale = cached is None or cached.identity != identity
        if stale or (refresh and now - cached.read_at >= _MAPS_REREAD_SECONDS):
            cached = _process_maps[pid] = _ProcessMaps(identity, now, _read_maps(pid))
        for mapping in cached.mappings:
            if mapping.start <= address < mapping.end:
                return mapping
    return None


def _start_time(pid: int) -> str | None:
    """When the process started (tells a reused pid from the process cached)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()  # the comm may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else None


def _read_maps(pid: int) -> tuple[_Mapping, ...]:
    """The process's executable file-backed mappings."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            lines = maps.readlines()
    except OSError:
        return ()
    mappings = []
    for line in lines:
        fields = line.split(maxsplit=5)
        path = fields[5].rstrip("\n").removesuffix(" (deleted)") if len(fields) == 6 else ""
        if "x" not in fields[1] or not (path.startswith("/") or path == VDSO):
            continue  # frames lie in code: no need to read data files
        start, end = (int(part, 16) for part in fields[0].split("-"))
        mappings.append(_Mapping(start, end, int(fields[2], 16), fields[3], int(fields[4]), path))
    return tuple(mappings)


def _file_symbols(pid: int, mapping: _Mapping) -> _ElfSymbols | None:
    """The mapped file's symbols, cached by device and inode: one table for
    every process of a binary."""
    key = (mapping.device, mapping.inode)
    if key not in _files:
        if len(_files) >= _FILES_CACHED:
            del _files[next(iter(_files))]  # the oldest
        _files[key] = _read_symbols(pid, mapping)
    return _files[key]


def _read_elf(pid: int, mapping: _Mapping) -> ElfFile | None:
    """The mapped file itself, also when it was deleted or lies in another
    mount namespace, is /proc/PID/map_files/RANGE (root only); else its
    path. The vDSO is a whole ELF image in the process's memory."""
    if mapping.path == VDSO:
        try:
            with open(f"/proc/{pid}/mem", "rb") as memory:
                memory.seek(mapping.start)
                return ElfFile(memory.read(mapping.end - mapping.start))
        except (OSError, ElfError):
            return None
    for path in (f"/proc/{pid}/map_files/{mapping.start:x}-{mapping.end:x}", mapping.path):
        try:
            return ElfFile.read(path)
        except ElfError:
            continue
    return None


def _read_symbols(pid: int, mapping: _Mapping) -> _ElfSymbols | None:
    elf = _read_elf(pid, mapping)
    if elf is None:
        return None
    try:
        entries = [
            (symbol.value, symbol.size, symbol.name)
            for table in elf.sections_of_type(SHT_SYMTAB) + elf.sections_of_type(SHT_DYNSYM)
            for symbol in elf.symbols(table)
            if symbol.type in (STT_FUNC, STT_GNU_IFUNC) and symbol.section_index != 0 and symbol.name and symbol.value
        ]
    except ElfError:
        return None
    sections = tuple((section.offset, section.size, section.address) for section in elf.sections
                     if section.flags & _SHF_ALLOC and section.type != _SHT_NOBITS and section.size)
    return _ElfSymbols(_Table(entries), sections)


@lru_cache(maxsize=4096)
def demangled(name: str) -> str:
    """A C++ symbol as its source spells it (`work::step(int)`), as bcc
    shows it to bpftrace, by libstdc++'s own demangler; any other name, or
    any name without libstdc++, as it is."""
    demangle = _cxa_demangle()
    if not name.startswith("_Z") or demangle is None:
        return name
    status = ctypes.c_int(-1)
    text = demangle(name.encode(), None, None, ctypes.byref(status))
    if not text:
        return name
    try:
        return ctypes.string_at(text).decode("utf-8", "replace") if status.value == 0 else name
    finally:
        _free()(text)


@lru_cache(maxsize=1)
def _cxa_demangle():
    try:
        function = ctypes.CDLL(LIBSTDCXX).__cxa_demangle
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_void_p  # malloc'd text, freed with free()
    function.argtypes = (ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int))
    return function


@lru_cache(maxsize=1)
def _free():
    function = ctypes.CDLL(None).free
    function.argtypes = (ctypes.c_void_p,)
    function.restype = None
    return function


# ------------------------------------------------------------------ stacks


def stack_value(stack: StackType, addresses: Sequence[int], pid: int) -> values.Stack:
    """A kstack/ustack value: its frames (innermost first) resolved unless
    printed raw."""
    frames = []
    for address in addresses:
        found = None
        if stack.mode != "raw":
            found = user_symbol(pid, address) if stack.user else kernel_symbol(address)
        if found is None:
            frames.append(values.StackFrame(address))
        else:
            frames.append(values.StackFrame(address, found.name, found.offset, found.module))
    return values.Stack(tuple(frames), stack.mode, stack.user)
