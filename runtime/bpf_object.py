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

from auger.compiler.elf import EM_BPF, SHF_EXECINSTR, SHT_PROGBITS, SHT_REL, SHT_SYMTAB, STT_FUNC, ElfError, ElfFile

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
    try:
        return _read_object(ElfFile(data))
    except ElfError as error:
        raise BpfObjectError(f"malformed BPF object: {error}") from None


def _read_object(elf: ElfFile) -> BpfObject:
    if elf.machine != EM_BPF:
        raise BpfObjectError("not a BPF object")
    symbol_tables = elf.sections_of_type(SHT_SYMTAB)
    if not symbol_tables:
        raise BpfObjectError("object has no symbol table")
    symbols = elf.symbols(symbol_tables[0])
    maps = elf.section(".maps")
    maps_index = maps.index if maps is not None else None
    map_names = tuple(symbol.name for symbol in symbols if maps_index is not None and symbol.section_index == maps_index)

    relocations: dict[int, list[MapReference]] = {}
    for section in elf.sections_of_type(SHT_REL):
        if section.info >= len(elf.sections):
            raise BpfObjectError(f"relocations {section.name} apply to a missing section")
        target = elf.sections[section.info]
        if not target.flags & SHF_EXECINSTR:
            continue  # debug and unwind tables
        code = elf.contents(target)
        for relocation in elf.relocations(section):
            if relocation.symbol_index >= len(symbols):
                raise BpfObjectError(f"relocation in {target.name} against a missing symbol")
            symbol = symbols[relocation.symbol_index]
            if relocation.type != _R_BPF_64_64 or symbol.section_index != maps_index:
                raise BpfObjectError(f"unsupported relocation against {symbol.name or '?'} in {target.name}")
            if relocation.offset >= len(code) or code[relocation.offset] != _LD_IMM64:
                raise BpfObjectError(f"relocation of {symbol.name} is not at a 64-bit load")
            reference = MapReference(relocation.offset // INSTRUCTION_SIZE, symbol.name)
            relocations.setdefault(target.index, []).append(reference)

    functions = {symbol.section_index: symbol.name for symbol in symbols if symbol.type == STT_FUNC}
    programs = tuple(
        ProgramSection(
            section.name, functions.get(section.index, section.name), elf.contents(section),
            tuple(relocations.get(section.index, ())),
        )
        for section in elf.sections_of_type(SHT_PROGBITS)
        if section.flags & SHF_EXECINSTR and section.size > 0
    )  # fmt: skip
    return BpfObject(programs, map_names)
