"""Reads the BPF ELF object that codegen emitted: programs and map references.

Codegen refers to each map through a global symbol in the `.maps` section; LLVM
leaves a relocation at every 64-bit immediate load (LD_IMM64) of such a symbol.
At load time those loads become BPF_PSEUDO_MAP_FD loads of the map's fd, which
is the form the kernel resolves itself.

The only other relocation is an LD_IMM64 of a callback's address (for loops
over maps): callbacks live in a section of their own, appended to the
program when it is linked, and the load becomes a BPF_PSEUDO_FUNC load of the
callback's instruction offset. Codegen inlines everything else and keeps
constants out of data sections.
"""

from __future__ import annotations

import struct

from auger.compiler.elf import EM_BPF, SHF_EXECINSTR, SHT_PROGBITS, SHT_REL, SHT_SYMTAB, STT_FUNC, ElfError, ElfFile
from auger.compiler.frozen import Value as FrozenValue, frozen

_R_BPF_64_64 = 1  # an LD_IMM64 of a symbol's address
_LD_IMM64 = 0x18
_PSEUDO_MAP_FD = 1
_PSEUDO_FUNC = 4
INSTRUCTION_SIZE = 8


class BpfObjectError(Exception):
    """The object is not one auger's codegen produces (an internal error)."""


@frozen
class MapReference(FrozenValue):
    instruction: int  # index of the LD_IMM64 instruction
    map_name: str


@frozen
class FunctionReference(FrozenValue):
    instruction: int  # index of the LD_IMM64 instruction
    section_index: int  # the section of the function it loads the address of
    offset: int  # the function's byte offset in that section


@frozen
class ProgramSection(FrozenValue):
    section: str  # the section name codegen gave the function
    function: str
    code: bytes
    map_references: tuple[MapReference, ...]
    index: int = 0  # the ELF section index
    function_references: tuple[FunctionReference, ...] = ()
    functions: tuple[tuple[str, int], ...] = ()  # (name, byte offset) of every function in the section

    @property
    def instruction_count(self) -> int:
        return len(self.code) // INSTRUCTION_SIZE

    def linked(self, map_fds: dict[str, int], callbacks: ProgramSection | None = None) -> bytes:
        """The instructions, then those of `callbacks`, with every map
        reference turned into a load of that map's fd and every callback
        reference into a BPF_PSEUDO_FUNC load of its instruction offset."""
        parts = (self,) if callbacks is None else (self, callbacks)
        starts, code = {}, bytearray()
        for part in parts:
            starts[part.index] = len(code) // INSTRUCTION_SIZE
            code += part.code
        for part in parts:
            for reference in part.map_references:
                if reference.map_name not in map_fds:
                    raise BpfObjectError(f"no map created for {reference.map_name}")
                _set_immediate(code, starts[part.index] + reference.instruction, _PSEUDO_MAP_FD,
                               map_fds[reference.map_name])  # fmt: skip
            for reference in part.function_references:
                if reference.section_index not in starts:
                    raise BpfObjectError(f"{part.section} refers to a function outside its program")
                at = starts[part.index] + reference.instruction
                target = starts[reference.section_index] + reference.offset // INSTRUCTION_SIZE
                _set_immediate(code, at, _PSEUDO_FUNC, target - (at + 1))
        return bytes(code)

    def function_starts(self, callbacks: ProgramSection | None) -> list[tuple[str, int]]:
        """Every function of the linked program (the program first) and the
        instruction it starts at."""
        if callbacks is None:
            return [(self.function, 0)]
        base = self.instruction_count
        return [(self.function, 0)] + [(name, base + offset // INSTRUCTION_SIZE) for name, offset in callbacks.functions]


def _set_immediate(code: bytearray, instruction: int, source: int, immediate: int) -> None:
    at = instruction * INSTRUCTION_SIZE
    code[at + 1] = (code[at + 1] & 0x0F) | (source << 4)
    struct.pack_into("<i", code, at + 4, immediate)


@frozen
class BpfObject(FrozenValue):
    programs: tuple[ProgramSection, ...]
    map_names: tuple[str, ...]

    def program(self, section: str) -> ProgramSection:
        program = self.section(section)
        if program is None:
            raise BpfObjectError(f"no program in section {section}")
        return program

    def section(self, section: str) -> ProgramSection | None:
        return next((program for program in self.programs if program.section == section), None)


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
    function_references: dict[int, list[FunctionReference]] = {}
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
            in_code = symbol.section_index < len(elf.sections) and elf.sections[symbol.section_index].flags & SHF_EXECINSTR
            if relocation.type != _R_BPF_64_64 or not (symbol.section_index == maps_index or in_code):
                raise BpfObjectError(f"unsupported relocation against {symbol.name or '?'} in {target.name}")
            if relocation.offset + INSTRUCTION_SIZE > len(code) or code[relocation.offset] != _LD_IMM64:
                raise BpfObjectError(f"relocation of {symbol.name} is not at a 64-bit load")
            instruction = relocation.offset // INSTRUCTION_SIZE
            if in_code:  # a section symbol's addend is in the immediate
                (addend,) = struct.unpack_from("<i", code, relocation.offset + 4)
                reference = FunctionReference(instruction, symbol.section_index, symbol.value + addend)
                function_references.setdefault(target.index, []).append(reference)
            else:
                relocations.setdefault(target.index, []).append(MapReference(instruction, symbol.name))

    functions = {symbol.section_index: symbol.name for symbol in symbols if symbol.type == STT_FUNC}
    defined: dict[int, list[tuple[str, int]]] = {}
    for symbol in sorted(symbols, key=lambda symbol: symbol.value):
        if symbol.type == STT_FUNC:
            defined.setdefault(symbol.section_index, []).append((symbol.name, symbol.value))
    programs = tuple(
        ProgramSection(
            section.name, functions.get(section.index, section.name), elf.contents(section),
            tuple(relocations.get(section.index, ())), section.index,
            tuple(function_references.get(section.index, ())), tuple(defined.get(section.index, ())),
        )
        for section in elf.sections_of_type(SHT_PROGBITS)
        if section.flags & SHF_EXECINSTR and section.size > 0
    )  # fmt: skip
    return BpfObject(programs, map_names)
