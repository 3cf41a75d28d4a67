"""How much BPF stack each function of an emitted object uses.

LLVM's own check of the 512-byte limit exits the process (target.py turns
it off); this measures the frame from the code instead: the deepest offset
below the frame pointer r10 that an instruction reads, writes, or takes the
address of (`rN = r10; rN += -off`, how LLVM passes a stack slot to a helper).

    stack_depths(object_code) -> {function name: bytes}
"""

from __future__ import annotations

import struct

from auger.compiler.elf import SHF_EXECINSTR, SHT_SYMTAB, STT_FUNC, ElfFile

BPF_STACK_LIMIT = 512

_INSTRUCTION = struct.Struct("<BBhi")  # opcode, dst:4 | src:4, offset, immediate
_FRAME_POINTER = 10
_CLASS_MASK = 0x07
_LDX, _ST, _STX, _ALU64 = 0x01, 0x02, 0x03, 0x07
_MOV64_REGISTER = 0xBF
_ADD64_IMMEDIATE = 0x07
_LD_IMM64 = 0x18


def stack_depths(object_code: bytes) -> dict[str, int]:
    elf = ElfFile(object_code)
    symbols = [symbol for table in elf.sections_of_type(SHT_SYMTAB) for symbol in elf.symbols(table)]
    depths = {}
    for section in elf.sections:
        if not section.flags & SHF_EXECINSTR or not section.size:
            continue
        code = elf.contents(section)
        starts = sorted((symbol.value, symbol.name) for symbol in symbols
                        if symbol.type == STT_FUNC and symbol.section_index == section.index)  # fmt: skip
        for (start, name), (end, _) in zip(starts, starts[1:] + [(len(code), "")]):
            depths[name] = _depth(code[start:end])
    return depths


def _depth(code: bytes) -> int:
    deepest = 0
    frame_copies: set[int] = set()  # registers that hold r10 right now
    index = 0
    while index + _INSTRUCTION.size <= len(code):
        opcode, registers, offset, immediate = _INSTRUCTION.unpack_from(code, index)
        index += 16 if opcode == _LD_IMM64 else 8
        destination, source = registers & 0x0F, registers >> 4
        kind = opcode & _CLASS_MASK
        if kind == _LDX and source == _FRAME_POINTER or kind in (_ST, _STX) and destination == _FRAME_POINTER:
            deepest = max(deepest, -offset)
        if opcode == _ADD64_IMMEDIATE and destination in frame_copies:
            deepest = max(deepest, -immediate)
        if opcode == _MOV64_REGISTER and source == _FRAME_POINTER:
            frame_copies.add(destination)
        elif kind not in (_ST, _STX):
            frame_copies.discard(destination)
    return deepest
