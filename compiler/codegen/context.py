"""The probe-context builtins: values read from the program's context pointer
(`args.field`, `arg0`..`argN`, `retval`, `func`), and the values of `probe`
and `cpid`.

What the context pointer points at depends on the BPF program type
(function.py): a tracepoint's record for TRACEPOINT programs (`args` fields
at the offsets of the format file, common fields first), the u64 argument
array for RAW_TRACEPOINT, `struct pt_regs` for KPROBE (kprobes, uprobes)
and `struct bpf_perf_event_data` (pt_regs first) for PERF_EVENT. Every read
is a direct load from the context at a constant offset, which the verifier
accepts for all four types. fentry/fexit (TRACING) programs get the traced
function's arguments as u64 slots: function_arguments.py reads those.

`probe` is a u64 the runtime turns into the probe's name:
- a program serving one attach point: the constant index of its name in
  `CompiledProgram.probe_names`;
- a tracepoint program serving several (a wildcard): its BPF cookie, which
  the runtime sets to that same index for each attach point
  (runtime/attach.py). The record cannot say which tracepoint it is: while
  the program runs, its first 8 bytes (the common fields) hold a pt_regs
  pointer instead.
"""

from __future__ import annotations

import os
import re

import llvmlite.ir as ir

from auger.compiler import ast
from auger.compiler.resources import unsupported
from auger.compiler.types import UINT64, BoolType, EnumType, FieldLayout, IntType, PointerType, SpecialType

from . import function_arguments, usdt_arguments
from .function import (KPROBE, PERF_EVENT, RAW_TRACEPOINT, RUNTIME_CPID, RUNTIME_FILTER_PID, RUNTIME_MAP, RUNTIME_STOPPED,
                       TRACEPOINT, TRACING, AttachGroup, ProbeFunction)
from .helpers import (BYTE_POINTER, GET_ATTACH_COOKIE, GET_CURRENT_PID_TGID, GET_FUNC_IP, I32, I64,
                      PROBE_READ_KERNEL, PROBE_READ_USER, call_helper)
from .maps import lookup
from .values import load_or_zero

# struct pt_regs on x86-64 (arch/x86/include/asm/ptrace.h): byte offsets.
_PT_REGS = {name: 8 * index for index, name in enumerate((
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di", "orig_ax",
    "ip", "cs", "flags", "sp", "ss"))}
# The System V x86-64 integer argument registers, in order.
_ARGUMENT_REGISTERS = ("di", "si", "dx", "cx", "r8", "r9")
_ARGUMENT = re.compile(r"arg(\d+)$")
_STACK_ARGUMENT = re.compile(r"sarg(\d+)$")
_USER_SPACE_PROVIDERS = ("uprobe", "uretprobe", "usdt")
_REGISTER_CONTEXTS = (KPROBE, PERF_EVENT)


def lower_builtin(fn: ProbeFunction, node: ast.Identifier) -> ir.Value:
    """The i64 value of a probe-context builtin (`arg0`, `retval`, `func`,
    `probe`, `cpid`); CompileError for one not lowered here."""
    name, program_type = node.name, fn.group.program_type
    argument = _ARGUMENT.match(name)
    if argument and usdt_arguments.has_argument_locations(fn):
        return usdt_arguments.lower_argument(fn, int(argument.group(1)), node)
    if argument and program_type == RAW_TRACEPOINT:
        return _load(fn, 8 * int(argument.group(1)), 64)
    if argument and program_type == KPROBE and int(argument.group(1)) < len(_ARGUMENT_REGISTERS):
        return register(fn, _ARGUMENT_REGISTERS[int(argument.group(1))])
    stack_argument = _STACK_ARGUMENT.match(name)
    if stack_argument and program_type == KPROBE:
        # Above the return address at sp: the caller's 8-byte stack slots.
        address = fn.builder.add(register(fn, "sp"), ir.Constant(I64, 8 * (int(stack_argument.group(1)) + 1)))
        user = fn.group.provider in _USER_SPACE_PROVIDERS
        return read_word(fn, address, PROBE_READ_USER if user else PROBE_READ_KERNEL)
    if name == "retval" and program_type == KPROBE:
        return register(fn, "ax")
    if name == "func" and program_type == KPROBE:
        return probed_address(fn)
    if name == "probe":
        return probe_value(fn)
    if name == "cpid":
        return runtime_value(fn, RUNTIME_CPID)
    if name == "retval" and program_type == TRACING:
        return function_arguments.return_value(fn, node.span)
    if name == "func" and program_type == TRACING:
        return function_arguments.function_address(fn)
    raise unsupported(f"the builtin '{name}' in {fn.group.provider} probes", node.span)


def probed_address(fn: ProbeFunction) -> ir.Value:
    """Where a kprobe or uprobe hit is (`func`): the probed instruction in
    an entry probe; in a return probe, whose ip is the caller's, the
    function's address, which the kernel knows (kretprobes, and uretprobes
    since Linux 6.4)."""
    if not fn.group.context.is_return:
        return register(fn, "ip")
    return call_helper(fn.builder, GET_FUNC_IP, fn.builder.bitcast(fn.context, BYTE_POINTER))


def is_args_access(node: ast.Expr) -> bool:
    """`args.field` / `args->field`."""
    return isinstance(node, ast.FieldAccess) and isinstance(node.operand, ast.Identifier) and node.operand.name == "args"


def args_field(fn: ProbeFunction, node: ast.FieldAccess) -> FieldLayout:
    """The layout of `args.<field>` in this program's context record."""
    fields = fn.group.context.args
    found = next((field for field in fields or () if field.name == node.field), None)
    if fn.group.program_type not in (TRACEPOINT, TRACING) or found is None:
        raise unsupported(f"args in {fn.group.provider} probes", node.span)
    return found


def lower_args_access(fn: ProbeFunction, node: ast.FieldAccess) -> ir.Value:
    """The i64 value of an integer, bool, enum or pointer field of `args`."""
    field = args_field(fn, node)
    if fn.group.program_type == TRACING:
        return function_arguments.argument(fn, field, node.span)
    type_ = field.type
    if isinstance(type_, IntType):
        return _load(fn, field.offset, type_.bits, type_.signed)
    if isinstance(type_, EnumType):
        return _load(fn, field.offset, type_.bits)
    if isinstance(type_, BoolType):
        loaded = _load(fn, field.offset, 8)
        return fn.builder.zext(fn.builder.icmp_unsigned("!=", loaded, ir.Constant(I64, 0)), I64)
    if isinstance(type_, PointerType):
        return _load(fn, field.offset, 64)
    raise unsupported(f"reading args.{field.name} of type {type_} as a value", node.span)


def field_address(fn: ProbeFunction, field: FieldLayout) -> ir.Value:
    """The address (i64) of a field inside the context record: where a
    `char[N]` field's bytes are."""
    return fn.builder.add(fn.builder.ptrtoint(fn.context, I64), ir.Constant(I64, field.offset))


def data_loc_pointer(fn: ProbeFunction, field: FieldLayout) -> ir.Value:
    """The address (i64) of a `__data_loc` field's data: the field is a u32
    whose low 16 bits are the data's offset in the record (its high 16 bits
    the length). `str()` reads the string there."""
    if field.type != SpecialType("data_loc", 4):
        raise ValueError(f"{field.name} is not a __data_loc field")
    location = _load(fn, field.offset, 32)
    offset = fn.builder.and_(location, ir.Constant(I64, 0xFFFF))
    return fn.builder.add(fn.builder.ptrtoint(fn.context, I64), offset)


def probe_value(fn: ProbeFunction) -> ir.Value:
    group = fn.group
    if len({spec.name for spec in group.specs}) == 1:  # one attach point, or the sites of one USDT probe
        return ir.Constant(I64, group.probe_ids[0])
    # module.py only merges attach points into one program under `probe`
    # when the program can tell them apart: tracepoints, by their cookie.
    assert group.program_type == TRACEPOINT
    return call_helper(fn.builder, GET_ATTACH_COOKIE, fn.builder.bitcast(fn.context, BYTE_POINTER))


def read_word(fn: ProbeFunction, address: ir.Value, helper: int, size: int = 8) -> ir.Value:
    """The `size` (at most 8) bytes at `address` read with a probe-read
    helper, zero-extended (0 if the read fails)."""
    builder = fn.builder
    slot = fn.shared_slot(I64, "read_word")
    builder.store(ir.Constant(I64, 0), slot)
    pointer = builder.inttoptr(address, BYTE_POINTER)
    call_helper(builder, helper, builder.bitcast(slot, BYTE_POINTER), ir.Constant(I64, size), pointer)
    return builder.load(slot)


def runtime_value(fn: ProbeFunction, index: int) -> ir.Value:
    """Slot `index` of the runtime values map (0 if the lookup failed,
    which it cannot for an array index in range; the verifier wants the
    check)."""
    builder = fn.builder
    key = fn.shared_slot(I32, "runtime_key")
    builder.store(ir.Constant(I32, index), key)
    return load_or_zero(fn, UINT64, lookup(fn, RUNTIME_MAP, builder.bitcast(key, BYTE_POINTER)))


def session_running(fn: ProbeFunction) -> ir.Value:
    """An i1: the session has not ended. A detached tracepoint program may
    still run for a while (detaching waits for the kernel, attach.Detacher),
    and nothing a probe does may show after END."""
    stopped = runtime_value(fn, RUNTIME_STOPPED)
    return fn.builder.icmp_unsigned("==", stopped, ir.Constant(I64, 0))


def pid_filter_passes(fn: ProbeFunction) -> ir.Value:
    """An i1: no `-p PID` was given, or the current process is it."""
    builder = fn.builder
    wanted = runtime_value(fn, RUNTIME_FILTER_PID)
    unset = builder.icmp_unsigned("==", wanted, ir.Constant(I64, 0))
    return builder.or_(unset, builder.icmp_unsigned("==", wanted, _current_pid(fn)))


def traces_auger(group: AttachGroup) -> bool:
    """USDT probes in a binary this very process maps (the Python
    interpreter auger runs on, when it has probes): attached system-wide,
    they fire in auger too, and each event auger prints runs code that
    fires more (function__entry). The check's pid constant makes every
    run's program new to the object cache: uprobes go without it."""
    if group.provider != "usdt":
        return False
    try:
        with open("/proc/self/maps") as maps:  # ADDRESSES PERMS OFFSET DEVICE INODE [PATH]
            mapped = {fields[5].strip() for fields in (line.split(None, 5) for line in maps) if len(fields) == 6}
    except OSError:
        return False
    return any(os.path.realpath(spec.target) in mapped for spec in group.specs)


def outside_auger(fn: ProbeFunction) -> ir.Value:
    """An i1: the current process is not this auger (its pid is a constant
    of the program, compiled and run by the same process)."""
    return fn.builder.icmp_unsigned("!=", _current_pid(fn), ir.Constant(I64, os.getpid()))


def _current_pid(fn: ProbeFunction) -> ir.Value:
    return fn.builder.lshr(call_helper(fn.builder, GET_CURRENT_PID_TGID), ir.Constant(I64, 32))


def register(fn: ProbeFunction, name: str) -> ir.Value | None:
    """A register saved in the context's pt_regs (`reg("ip")`); None when
    the program's context has none (or no such register)."""
    if fn.group.program_type not in _REGISTER_CONTEXTS or name not in _PT_REGS:
        return None
    return _load(fn, _PT_REGS[name], 64)


def _load(fn: ProbeFunction, offset: int, bits: int, signed: bool = False) -> ir.Value:
    """A `bits`-wide integer at `offset` in the context, as an i64."""
    builder = fn.builder
    address = builder.gep(fn.context, [ir.Constant(I64, offset)])
    value = builder.load(builder.bitcast(address, ir.IntType(bits).as_pointer()))
    if bits == 64:
        return value
    return builder.sext(value, I64) if signed else builder.zext(value, I64)
