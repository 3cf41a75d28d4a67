"""Reads the BPF ELF object that codegen emitted: programs and map references.

Codegen refers to each map through a global symbol in the `.maps` section; LLVM
leaves a relocation at every 64-bit immediate load (LD_IMM64) of such a symbol.
At load time those loads become BPF_PSEUDO_MAP_FD loads of the map's fd, which
is the form the kernel resolves itself. Nothing else may be relocated: codegen
inlines every function and keeps constants out of data sections.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_ELF_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION_HEADER = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")
_RELOCATION = struct.Struct("<QQ")

_SHT_PROGBITS = 1
_SHT_SYMTAB = 2
_SHT_REL = 9
_SHF_EXECINSTR = 0x4
_EM_BPF = 247
_R_BPF_64_64 = 1  # an LD_IMM64 of a symbol's address
_LD_IMM64 = 0x18
_PSEUDO_MAP_FD = 1
INSTRUCTION_SIZE = 8


class BpfObjectError(Exception):
    """The object is not one auger's codegen produces (an internal error)."""


@dataclass(frozen=True)
class MapReference:
    instruction: int  # index of the LD_IMM64 instruction
    map_name: str


@dataclass(frozen=True)
class ProgramSection:
    section: str  # the section name codegen gave the function
    function: str
    code: bytes
    map_references: tuple[MapReference, ...]

    @property
    def instruction_count(self) -> int:
        return len(self.code) // INSTRUCTION_SIZE

    def linked(self, map_fds: dict[str, int]) -> bytes:
        """The instructions with every map reference turned into a load of that
        map's fd."""
        code = bytearray(self.code)
        for reference in self.map_references:
            if reference.map_name not in map_fds:
                raise BpfObjectError(f"no map created for {reference.map_name}")
            at = reference.instruction * INSTRUCTION_SIZE
            registers = code[at + 1]
            code[at + 1] = (registers & 0x0F) | (_PSEUDO_MAP_FD << 4)
            struct.pack_into("<i", code, at + 4, map_fds[reference.map_name])
        return bytes(code)


@dataclass(frozen=True)
class BpfObject:
    programs: tuple[ProgramSection, ...]
    map_names: tuple[str, ...]

    def program(self, section: str) -> ProgramSection:
        for program in self.programs:
            if program.section == section:
                return program
        raise BpfObjectError(f"no program in section {section}")


def read_object(data: bytes) -> BpfObject:
    if len(data) < _ELF_HEADER.size or data[:4] != b"\x7fELF":
        raise BpfObjectError("not an ELF object")
    header = _ELF_HEADER.unpack_from(data)
    ident, machine = header[0], header[2]
    if ident[4] != 2 or ident[5] != 1 or machine != _EM_BPF:
        raise BpfObjectError("not a 64-bit little-endian BPF object")
    section_offset, entry_size, count, names_index = header[6], header[11], header[12], header[13]
    sections = [_SECTION_HEADER.unpack_from(data, section_offset + i * entry_size) for i in range(count)]

    def contents(index: int) -> bytes:
        _, _, _, _, offset, size, *_ = sections[index]
        return data[offset : offset + size]

    section_names = contents(names_index)
    names = [_c_string(section_names, s[0]) for s in sections]

    symtab_index = next((i for i, s in enumerate(sections) if s[1] == _SHT_SYMTAB), None)
    if symtab_index is None:
        raise BpfObjectError("object has no symbol table")
    symbol_strings = contents(sections[symtab_index][6])
    symbol_data = contents(symtab_index)
    symbols = [
        _SYMBOL.unpack_from(symbol_data, at) for at in range(0, len(symbol_data), _SYMBOL.size)
    ]

    maps_index = names.index(".maps") if ".maps" in names else None
    map_names = tuple(
        _c_string(symbol_strings, s[0]) for s in symbols if maps_index is not None and s[3] == maps_index
    )

    relocations: dict[int, list[MapReference]] = {}
    for index, section in enumerate(sections):
        if section[1] != _SHT_REL:
            continue
        target = section[7]
        if not sections[target][2] & _SHF_EXECINSTR:
            continue  # debug and unwind tables
        rel_data = contents(index)
        for at in range(0, len(rel_data), _RELOCATION.size):
            offset, info = _RELOCATION.unpack_from(rel_data, at)
            symbol = symbols[info >> 32]
            name = _c_string(symbol_strings, symbol[0])
            if info & 0xFFFFFFFF != _R_BPF_64_64 or symbol[3] != maps_index:
                raise BpfObjectError(f"unsupported relocation against {name or '?'} in {names[target]}")
            if contents(target)[offset] != _LD_IMM64:
                raise BpfObjectError(f"relocation of {name} is not at a 64-bit load")
            relocations.setdefault(target, []).append(MapReference(offset // INSTRUCTION_SIZE, name))

    functions = {
        s[3]: _c_string(symbol_strings, s[0]) for s in symbols if s[1] & 0xF == 2  # STT_FUNC
    }
    programs = tuple(
        ProgramSection(names[i], functions.get(i, names[i]), contents(i), tuple(relocations.get(i, ())))
        for i, s in enumerate(sections)
        if s[1] == _SHT_PROGBITS and s[2] & _SHF_EXECINSTR and s[5] > 0
    )
    return BpfObject(programs, map_names)


def _c_string(table: bytes, offset: int) -> str:
    end = table.index(b"\0", offset)
    return table[offset:end].decode("utf-8", "replace")
