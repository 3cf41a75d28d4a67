"""A reader for 64-bit little-endian ELF files (x86-64, arm64 and BPF
objects), with `struct` only: the header, sections by name or type, string
tables, symbols, notes and REL relocations.

Every offset and size read from the file is checked against the data before
it is used, so a truncated or malformed file raises `ElfError` (never
`struct.error` or `IndexError`): the probes read arbitrary user binaries.
"""

from __future__ import annotations

import struct
from typing import Iterator

from auger.compiler.frozen import Value as FrozenValue, frozen

SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_NOTE = 7
SHT_REL = 9
SHT_DYNSYM = 11
SHF_EXECINSTR = 0x4
STT_FUNC = 2
STT_GNU_IFUNC = 10
EM_BPF = 247

_ELF_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION_HEADER = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")
_RELOCATION = struct.Struct("<QQ")
_NOTE_HEADER = struct.Struct("<III")


class ElfError(Exception):
    """The data is not a well-formed 64-bit little-endian ELF file."""


@frozen
class Section(FrozenValue):
    index: int
    name: str
    type: int
    flags: int
    address: int
    offset: int
    size: int
    link: int
    info: int


@frozen
class Symbol(FrozenValue):
    name: str
    type: int  # STT_*
    section_index: int  # 0: undefined
    value: int
    size: int


@frozen
class Note(FrozenValue):
    name: bytes  # with its terminating NUL, as stored
    type: int
    description: bytes


@frozen
class Relocation(FrozenValue):
    offset: int  # within the section the relocations apply to
    symbol_index: int
    type: int


class ElfFile:
    """One ELF file's data and section table, read eagerly and checked."""

    def __init__(self, data: bytes):
        if len(data) < _ELF_HEADER.size or data[:4] != b"\x7fELF":
            raise ElfError("not an ELF file")
        header = _ELF_HEADER.unpack_from(data)
        ident = header[0]
        if ident[4] != 2 or ident[5] != 1:
            raise ElfError("not a 64-bit little-endian ELF file")
        self.data = data
        self.machine = header[2]
        table_offset, entry_size, count, names_index = header[6], header[11], header[12], header[13]
        if count and entry_size < _SECTION_HEADER.size:
            raise ElfError(f"section header entries of {entry_size} bytes")
        raw = [self._unpack(_SECTION_HEADER, table_offset + index * entry_size, "section table") for index in range(count)]
        if raw and names_index >= len(raw):
            raise ElfError("section name table index out of range")
        name_table = _slice(data, raw[names_index][4], raw[names_index][5], "section name table") if raw else b""
        self.sections = tuple(
            Section(index, _c_string(name_table, entry[0]), entry[1], entry[2], entry[3], entry[4], entry[5], entry[6], entry[7])
            for index, entry in enumerate(raw)
        )

    @classmethod
    def read(cls, path: str) -> "ElfFile":
        """The file at `path`; ElfError also when it cannot be read."""
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise ElfError(error.strerror or str(error)) from None
        return cls(data)

    def _unpack(self, layout: struct.Struct, offset: int, what: str) -> tuple:
        if offset < 0 or offset + layout.size > len(self.data):
            raise ElfError(f"{what} runs past the end of the file")
        return layout.unpack_from(self.data, offset)

    def section(self, name: str) -> Section | None:
        return next((section for section in self.sections if section.name == name), None)

    def sections_of_type(self, type: int) -> list[Section]:
        return [section for section in self.sections if section.type == type]

    def linked(self, section: Section) -> Section:
        """The section `section.link` names (a symbol table's strings, ...)."""
        if section.link >= len(self.sections):
            raise ElfError(f"section {section.name} links to a missing section")
        return self.sections[section.link]

    def contents(self, section: Section) -> bytes:
        return _slice(self.data, section.offset, section.size, f"section {section.name}")

    def symbols(self, table: Section) -> list[Symbol]:
        """The entries of a SHT_SYMTAB or SHT_DYNSYM section, index 0 included."""
        strings = self.contents(self.linked(table))
        entries = self.contents(table)
        usable = len(entries) // _SYMBOL.size * _SYMBOL.size
        return [
            Symbol(_c_string(strings, name_offset), info & 0xF, section_index, value, size)
            for name_offset, info, _other, section_index, value, size in _SYMBOL.iter_unpack(entries[:usable])
        ]

    def notes(self, section: Section) -> Iterator[Note]:
        """The notes of a SHT_NOTE section; stops at a truncated one."""
        contents = self.contents(section)
        position = 0
        while position + _NOTE_HEADER.size <= len(contents):
            name_size, description_size, note_type = _NOTE_HEADER.unpack_from(contents, position)
            name_start = position + _NOTE_HEADER.size
            description_start = name_start + _align4(name_size)
            if description_start + description_size > len(contents):
                raise ElfError(f"a note in {section.name} runs past the section")
            yield Note(
                contents[name_start:name_start + name_size],
                note_type,
                contents[description_start:description_start + description_size],
            )
            position = description_start + _align4(description_size)

    def relocations(self, section: Section) -> list[Relocation]:
        """The entries of a SHT_REL section."""
        entries = self.contents(section)
        usable = len(entries) // _RELOCATION.size * _RELOCATION.size
        return [Relocation(offset, info >> 32, info & 0xFFFFFFFF) for offset, info in _RELOCATION.iter_unpack(entries[:usable])]


def _slice(data: bytes, offset: int, size: int, what: str) -> bytes:
    if offset + size > len(data):
        raise ElfError(f"{what} runs past the end of the file")
    return data[offset:offset + size]


def _align4(size: int) -> int:
    return (size + 3) // 4 * 4


def _c_string(table: bytes, offset: int) -> str:
    """The NUL-terminated string at `offset`; a string missing its NUL ends
    with the table."""
    if not table:
        return ""
    if offset >= len(table):
        raise ElfError(f"string offset {offset} outside its table")
    end = table.find(b"\0", offset)
    return table[offset:end if end >= 0 else len(table)].decode("utf-8", "replace")
