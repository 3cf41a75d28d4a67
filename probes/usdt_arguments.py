"""The argument specs of USDT notes: where each `argN` of a probe site is.

A stapsdt note describes its arguments as the assembler printed the inline
asm operands of the probe macro (sys/sdt.h), one `[-]SIZE@OPERAND` per
argument, separated by spaces: `8@%rbp -4@%eax 8@-8(%rbp) 4@$5
-4@16(%rax,%rdx,4)`. SIZE is in bytes, negative for a signed value. On
x86-64 an OPERAND is a register (any of its 64/32/16/8-bit names), a
constant (`$N`) or memory (`DISP(%BASE,%INDEX,SCALE)`, parts optional).

Registers are named as fields of the kernel's x86-64 `struct pt_regs`
(`ax`, `r12`, `ip`), which is what a uprobe program's context holds. An
operand of another form (a `%rip`-relative symbol, `%ah`, arm64 syntax)
becomes an UNSUPPORTED argument: the probe can still be attached, and only
a program reading that argument is refused (by the code generator).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ProbeContext.extra key: the site's arguments, a tuple of UsdtArgument
# (argN is element N). Sites whose tuples differ need programs of their own.
ARGUMENT_LOCATIONS = "argument_locations"

REGISTER = "register"  # the value is in `register`
MEMORY = "memory"  # `size` bytes at register + index * scale + value (user memory)
CONSTANT = "constant"  # the value is `value`
UNSUPPORTED = "unsupported"  # a form auger cannot read; `text` says which

_SIZES = (1, 2, 4, 8)

# pt_regs field -> the x86-64 names of that register (64, 32, 16, 8 bits).
_REGISTER_NAMES = {
    "ax": ("rax", "eax", "ax", "al"),
    "bx": ("rbx", "ebx", "bx", "bl"),
    "cx": ("rcx", "ecx", "cx", "cl"),
    "dx": ("rdx", "edx", "dx", "dl"),
    "si": ("rsi", "esi", "si", "sil"),
    "di": ("rdi", "edi", "di", "dil"),
    "bp": ("rbp", "ebp", "bp", "bpl"),
    "sp": ("rsp", "esp", "sp", "spl"),
    "ip": ("rip", "eip"),
    **{f"r{number}": (f"r{number}", f"r{number}d", f"r{number}w", f"r{number}b", f"r{number}l")
       for number in range(8, 16)},
}  # fmt: skip
_PT_REGS_FIELD = {alias: field for field, aliases in _REGISTER_NAMES.items() for alias in aliases}

_SPEC = re.compile(r"(?:(-?\d+)@)?(.+)$")
_REGISTER = re.compile(r"%(\w+)$")
_CONSTANT = re.compile(r"\$(-?(?:0x[0-9a-fA-F]+|\d+))$")
_MEMORY = re.compile(r"(-?(?:0x[0-9a-fA-F]+|\d+))?\((?:%(\w+))?(?:,%(\w+)(?:,([1248]))?)?\)$")


@dataclass(frozen=True)
class UsdtArgument:
    """One argument of one probe site: `size` bytes (1, 2, 4 or 8),
    `signed` or not, read from its location (`kind`, see the constants
    above). `text` is the spec as the note wrote it, for messages."""

    text: str
    kind: str
    size: int = 8
    signed: bool = False
    register: str = ""  # a pt_regs field: REGISTER's register, MEMORY's base ("" for none)
    index: str = ""  # MEMORY: the index register, "" for none
    scale: int = 1  # MEMORY: the index's multiplier
    value: int = 0  # CONSTANT: the value; MEMORY: the displacement


def parse_arguments(text: str) -> tuple[UsdtArgument, ...]:
    """The arguments of a note's argument text, in order."""
    return tuple(parse_argument(spec) for spec in text.split())


def parse_argument(spec: str) -> UsdtArgument:
    """One `[-]SIZE@OPERAND`. Without a size (old notes), 8 unsigned bytes."""
    found = _SPEC.match(spec)
    assert found is not None  # `.+` matches any non-empty spec
    size_text, operand = found.groups()
    size = abs(int(size_text)) if size_text is not None else 8
    signed = size_text is not None and size_text.startswith("-")
    if size not in _SIZES:
        return UsdtArgument(spec, UNSUPPORTED)
    location = _location(operand)
    if location is None:
        return UsdtArgument(spec, UNSUPPORTED)
    kind, register, index, scale, value = location
    return UsdtArgument(spec, kind, size, signed, register, index, scale, value)


def _location(operand: str) -> tuple[str, str, str, int, int] | None:
    """(kind, register, index, scale, value) of an operand; None for a form
    that is not understood or names a register pt_regs lacks."""
    if found := _REGISTER.match(operand):
        register = _PT_REGS_FIELD.get(found.group(1))
        return (REGISTER, register, "", 1, 0) if register is not None else None
    if found := _CONSTANT.match(operand):
        return CONSTANT, "", "", 1, int(found.group(1), 0)
    if found := _MEMORY.match(operand):
        displacement, base, index, scale = found.groups()
        if base is None and index is None:
            return None
        registers = [_PT_REGS_FIELD.get(name) if name is not None else "" for name in (base, index)]
        # %rip-relative operands hold symbols, and the uprobe's ip is not the
        # next instruction's address that %rip stands for: not readable.
        if None in registers or "ip" in registers:
            return None
        return MEMORY, registers[0], registers[1], int(scale or 1), int(displacement or "0", 0)
    return None
