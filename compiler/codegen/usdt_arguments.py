"""`argN` of a USDT probe: read where the site's note says the argument is
(probes/usdt_arguments.py), then sign- or zero-extended from its size to
the i64 every integer is.

A register comes from the program's pt_regs; memory (`-8(%rbp)`,
`16(%rax,%rdx,4)`) is user memory of the traced process, read with
bpf_probe_read_user (0 if that fails: paged out, say); a constant is a
constant. Every site a program serves has the same locations
(codegen/module.py groups sites by them), so the first site's stand for all.
"""

from __future__ import annotations

import llvmlite.ir as ir

from auger.compiler import ast
from auger.compiler.resources import unsupported
from auger.compiler.types import IntType
from auger.probes.usdt_arguments import ARGUMENT_LOCATIONS, CONSTANT, MEMORY, REGISTER, UsdtArgument

from . import context as probe_context
from .function import ProbeFunction
from .helpers import I64, PROBE_READ_USER
from .values import narrow


def has_argument_locations(fn: ProbeFunction) -> bool:
    """The program's attach points say where each `argN` is (USDT sites)."""
    return ARGUMENT_LOCATIONS in fn.group.context.extra


def lower_argument(fn: ProbeFunction, index: int, node: ast.Identifier) -> ir.Value:
    """The i64 value of `arg<index>` at this program's sites."""
    arguments: tuple[UsdtArgument, ...] = fn.group.context.extra[ARGUMENT_LOCATIONS]
    if index >= len(arguments):  # the analyser allows only the arguments every site has
        raise unsupported(f"{node.name}: the probe has {len(arguments)} arguments", node.span)
    argument = arguments[index]
    type_ = IntType(8 * argument.size, argument.signed)
    if argument.kind == CONSTANT:
        return narrow(fn.builder, ir.Constant(I64, argument.value & (2**64 - 1)), type_)
    if argument.kind == REGISTER:
        return narrow(fn.builder, probe_context.register(fn, argument.register), type_)
    if argument.kind == MEMORY:
        read = probe_context.read_word(fn, _address(fn, argument), PROBE_READ_USER, argument.size)
        return narrow(fn.builder, read, type_)
    raise unsupported(f"{node.name} of {fn.group.specs[0].name}, at '{argument.text}'", node.span)


def _address(fn: ProbeFunction, argument: UsdtArgument) -> ir.Value:
    """base + index * scale + displacement, as the CPU computes it (mod 2^64)."""
    builder = fn.builder
    address = ir.Constant(I64, argument.value & (2**64 - 1))
    if argument.register:
        address = builder.add(probe_context.register(fn, argument.register), address)
    if argument.index:
        scaled = builder.mul(probe_context.register(fn, argument.index), ir.Constant(I64, argument.scale))
        address = builder.add(address, scaled)
    return address
