"""Every builtin function: its arity, which arguments must be literals, and
the type of its result. `check_call` is the one entry the expression checker
uses; aggregations, map functions and printf-like formats have modules of
their own.
"""

from __future__ import annotations

from auger.compiler import ast
from auger.compiler.frozen import Value, frozen
from auger.compiler.types import (
    BOOL,
    INT64,
    UINT64,
    VOID,
    ArrayType,
    BufferType,
    IntType,
    PointerType,
    SpecialType,
    StackType,
    StringType,
    Type,
)

from .aggregations import AGGREGATIONS, check_aggregation
from .builtins import is_builtin
from .literals import literal_int, literal_string
from .map_functions import check_map_function
from .printf_check import check_format_call
from .type_rules import describe, is_integer, is_string_like

UNLIMITED = 1 << 16
STACK_MODES = ("bpftrace", "perf", "raw")
# `nsecs(MODE)`: which clock; plain `nsecs` is the monotonic one.
TIMESTAMP_MODES = ("monotonic", "boot", "tai", "sw_tai")
MAX_STACK_FRAMES = 1024


@frozen
class Signature(Value):
    min_args: int
    max_args: int


SIGNATURES: dict[str, Signature] = {
    # output and control
    "printf": Signature(1, UNLIMITED), "cat": Signature(1, UNLIMITED),
    "system": Signature(1, UNLIMITED), "debugf": Signature(1, UNLIMITED),
    "errorf": Signature(1, UNLIMITED), "warnf": Signature(1, UNLIMITED),
    "print": Signature(1, 3), "time": Signature(0, 1), "join": Signature(1, 2),
    "exit": Signature(0, 1), "signal": Signature(1, 1), "override": Signature(1, 1),
    "unwatch": Signature(1, 1),
    # values
    "str": Signature(1, 2), "buf": Signature(1, 2), "strftime": Signature(2, 2),
    "strncmp": Signature(3, 3), "strcontains": Signature(2, 2), "strerror": Signature(1, 1),
    "sizeof": Signature(1, 1), "offsetof": Signature(2, 2), "bswap": Signature(1, 1),
    "ntop": Signature(1, 2), "pton": Signature(1, 1), "macaddr": Signature(1, 1),
    "kaddr": Signature(1, 1), "uaddr": Signature(1, 1), "cgroupid": Signature(1, 1),
    "percpu_kaddr": Signature(1, 2), "reg": Signature(1, 1), "path": Signature(1, 2),
    "cgroup_path": Signature(1, 2), "ksym": Signature(1, 1), "usym": Signature(1, 1),
    "kstack": Signature(0, 2), "ustack": Signature(0, 2), "kptr": Signature(1, 1),
    "uptr": Signature(1, 1), "nsecs": Signature(0, 1),
    # aggregations
    "count": Signature(0, 0), "sum": Signature(1, 1), "min": Signature(1, 1),
    "max": Signature(1, 1), "avg": Signature(1, 1), "stats": Signature(1, 1),
    "hist": Signature(1, 2), "lhist": Signature(4, 4),
    # whole maps
    "delete": Signature(1, 2), "clear": Signature(1, 1), "zero": Signature(1, 1),
    "has_key": Signature(2, 2), "len": Signature(1, 1),
}

UNSAFE_FUNCTIONS = ("system", "signal", "override")

_FORMATTED = ("printf", "cat", "system", "debugf", "errorf", "warnf")
_MAP_FUNCTIONS = ("delete", "clear", "zero", "has_key", "len")
# Arguments that are not values: types, field names, stack modes.
_TYPE_ARGUMENTS = ("sizeof", "offsetof")
_LITERAL_STRING_ARGUMENT = ("pton", "kaddr", "uaddr", "cgroupid", "percpu_kaddr", "reg", "strftime", "time")
_NUMBER_WORDS = {1: "one argument", 0: "no arguments"}

# The `struct pt_regs` members `reg()` can read, per machine (bpftrace's names).
_REGISTERS = {
    "x86_64": frozenset((
        "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx",
        "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss",
    )),
}
# Probes whose context is not a `struct pt_regs`, so `reg()` has nothing to read.
_NO_REGISTERS = ("BEGIN", "END", "tracepoint", "rawtracepoint", "fentry", "fexit")


def arity_error(name: str, given: int) -> str | None:
    signature = SIGNATURES[name]
    if signature.min_args <= given <= signature.max_args:
        return None
    if signature.min_args == signature.max_args:
        return f"{name}() requires {_count(signature.min_args)} ({given} provided)"
    if given > signature.max_args:
        return f"{name}() takes up to {_count(signature.max_args)} ({given} provided)"
    return f"{name}() requires at least {_count(signature.min_args)} ({given} provided)"


def _count(number: int) -> str:
    return _NUMBER_WORDS.get(number, f"{number} arguments")


def check_call(checker, call: ast.Call) -> Type | None:
    """Check a call to a known function; returns its result type (None after an error)."""
    name = call.name
    problem = arity_error(name, len(call.args))
    if problem is not None:
        for argument in call.args:
            if isinstance(argument, ast.Expr) and not isinstance(argument, ast.MapRef):
                checker.check(argument)
        checker.error(problem, call.span)
        return None
    if name in _MAP_FUNCTIONS or (name == "print" and _is_whole_map(call.args[0])):
        return check_map_function(checker, call)
    if name in _TYPE_ARGUMENTS:
        return _check_type_function(checker, call)
    if name in ("kstack", "ustack"):
        return _check_stack(checker, call)
    if name == "nsecs":
        return _check_nsecs(checker, call)
    arguments = [checker.check(argument) for argument in call.args]
    if name in _FORMATTED:
        check_format_call(checker, call, arguments[1:])
        return VOID
    if name in AGGREGATIONS:
        return check_aggregation(checker, call, arguments)
    if name in _LITERAL_STRING_ARGUMENT and call.args and literal_string(call.args[0]) is None:
        checker.error(f"{name}() expects a string literal ({describe(arguments[0])} provided)", call.span)
        return None
    return _VALUE_FUNCTIONS[name](checker, call, arguments)


def _is_whole_map(argument: ast.Node) -> bool:
    return isinstance(argument, ast.MapRef) and not argument.keys


def _expect_integer(checker, call: ast.Call, arguments, index: int) -> bool:
    value = arguments[index]
    if value is None or is_integer(value) or isinstance(value, PointerType):
        return True
    checker.error(f"{call.name}() expects an integer argument ({value} provided)", call.args[index].span)
    return False


def _print(checker, call, arguments):
    if len(call.args) > 1:
        checker.error("print() with a non-map argument takes no other arguments", call.span)
    elif arguments[0] is not None and arguments[0] == VOID:
        checker.error("none type passed to print() is not printable", call.span)
    return VOID


def _str(checker, call, arguments):
    max_strlen = checker.env.program.max_strlen
    source = arguments[0]
    ok = source is None or is_integer(source) or is_string_like(source) or isinstance(source, PointerType) or (
        isinstance(source, SpecialType) and source.kind == "data_loc")
    if not ok:
        checker.error(f"str() expects an integer or a pointer type as first argument ({source} provided)", call.span)
        return None
    if len(call.args) == 2:
        _expect_integer(checker, call, arguments, 1)
        length = literal_int(call.args[1])
        if length is not None:
            if length < 0:
                checker.error("str(): negative length", call.args[1].span)
                return None
            if length > max_strlen:
                checker.env.program.reporter.warning(
                    f"length param ({length}) is too long and will be shortened to {max_strlen} bytes "
                    "(see BPFTRACE_MAX_STRLEN)", call.span)
            # bpftrace 0.27: `length` bytes, the NUL included (no more than max_strlen).
            return StringType(max(min(length, max_strlen), 1))
    if isinstance(source, StringType):
        return source
    return StringType(max_strlen)


def _buf(checker, call, arguments):
    source = arguments[0]
    if len(call.args) == 2:
        _expect_integer(checker, call, arguments, 1)
        length = literal_int(call.args[1])
        if length is not None and length < 0:
            checker.error(f"buf cannot use negative length ({length})", call.span)
            return None
        return BufferType(min(length, checker.env.program.max_strlen) if length is not None else checker.env.program.max_strlen)
    if isinstance(source, ArrayType):
        return BufferType(source.size)
    if isinstance(source, StringType):
        return BufferType(source.length)
    checker.error("buf() requires a length argument when its first argument is not an array", call.span)
    return None


def _strftime(checker, call, arguments):
    _expect_integer(checker, call, arguments, 1)
    return SpecialType("timestamp", 16)


def _strncmp(checker, call, arguments):
    for index in (0, 1):
        if arguments[index] is not None and not is_string_like(arguments[index]):
            checker.error(f"strncmp() expects a string argument ({arguments[index]} provided)", call.args[index].span)
    if literal_int(call.args[2]) is None or literal_int(call.args[2]) < 0:
        checker.error("strncmp() expects a non-negative integer literal as its third argument", call.args[2].span)
    return INT64


def _strcontains(checker, call, arguments):
    for index in (0, 1):
        if arguments[index] is not None and not is_string_like(arguments[index]):
            checker.error(f"strcontains() expects a string argument ({arguments[index]} provided)", call.args[index].span)
    return BOOL


def _bswap(checker, call, arguments):
    value = arguments[0]
    if value is None or not _expect_integer(checker, call, arguments, 0):
        return None
    return value if isinstance(value, IntType) else UINT64


def _ntop(checker, call, arguments):
    address = arguments[-1]
    if len(call.args) == 2:
        _expect_integer(checker, call, arguments, 0)
    ok = address is None or is_integer(address) or (
        isinstance(address, ArrayType) and address.length in (4, 16) and address.element.size == 1)
    if not ok:
        checker.error(f"ntop() expects an integer or array argument ({address} provided)", call.span)
        return None
    return SpecialType("inet", 24)


def _pton(checker, call, arguments):
    import socket

    text = literal_string(call.args[0])
    family = socket.AF_INET6 if ":" in text else socket.AF_INET if "." in text else None
    if family is None:
        checker.error(f"pton() expects an string argument of an IPv4/IPv6 address, got {text}", call.span)
        return None
    try:
        length = len(socket.inet_pton(family, text))
    except (OSError, ValueError):  # ValueError: an embedded NUL
        checker.error(f"pton() expects a valid IPv4/IPv6 address, got {text}", call.span)
        return None
    return ArrayType(IntType(8, False), length)


def _reg(checker, call, arguments):
    import platform

    for provider in dict.fromkeys(checker.env.providers):
        if provider in _NO_REGISTERS:
            checker.error(f'reg can not be used with "{provider.lower()}" probes', call.span)
    machine = platform.machine()
    name = literal_string(call.args[0])
    if name not in _REGISTERS.get(machine, ()):
        checker.error(f"'{name}' is not a valid register on this architecture ({machine})", call.span)
        return None
    return UINT64


def _macaddr(checker, call, arguments):
    value = arguments[0]
    ok = value is None or is_integer(value) or isinstance(value, PointerType) or (
        isinstance(value, ArrayType) and value.size >= 6)
    if not ok:
        checker.error(f"macaddr() expects an array of at least 6 bytes ({value} provided)", call.span)
        return None
    return SpecialType("macaddr", 6)


def _integer_result(result: Type):
    def check(checker, call, arguments):
        for index in range(len(arguments)):
            if literal_string(call.args[index]) is None:
                _expect_integer(checker, call, arguments, index)
        return result
    return check


def _same_type(checker, call, arguments):
    _expect_integer(checker, call, arguments, 0)
    return arguments[0]


def _join(checker, call, arguments):
    if len(call.args) == 2 and literal_string(call.args[1]) is None:
        checker.error(f"join() expects a string literal ({describe(arguments[1])} provided)", call.span)
    return VOID


def _signal(checker, call, arguments):
    if literal_string(call.args[0]) is None:
        _expect_integer(checker, call, arguments, 0)
    for provider in checker.env.providers:
        if provider in ("BEGIN", "END"):
            checker.error(f'signal can not be used with "{provider}" probes', call.span)
    return VOID


def _override(checker, call, arguments):
    _expect_integer(checker, call, arguments, 0)
    if any(provider != "kprobe" for provider in checker.env.providers):
        checker.error("override can only be used with kprobes.", call.span)
    return VOID


def _path(checker, call, arguments):
    return StringType(checker.env.program.max_strlen)


_VALUE_FUNCTIONS = {
    "print": _print,
    "time": lambda checker, call, arguments: VOID,
    "join": _join,
    "exit": _integer_result(VOID),
    "signal": _signal,
    "override": _override,
    "unwatch": _integer_result(VOID),
    "str": _str,
    "buf": _buf,
    "strftime": _strftime,
    "strncmp": _strncmp,
    "strcontains": _strcontains,
    "strerror": _integer_result(SpecialType("strerror")),
    "bswap": _bswap,
    "ntop": _ntop,
    "pton": _pton,
    "macaddr": _macaddr,
    "kaddr": _integer_result(UINT64),
    "uaddr": _integer_result(UINT64),
    "cgroupid": _integer_result(UINT64),
    "percpu_kaddr": _integer_result(UINT64),
    "reg": _reg,
    "path": _path,
    "cgroup_path": lambda checker, call, arguments: SpecialType("cgroup_path", 16),
    "ksym": _integer_result(SpecialType("ksym")),
    "usym": _integer_result(SpecialType("usym", 16)),
    "kptr": _same_type,
    "uptr": _same_type,
}


def _check_stack(checker, call: ast.Call) -> Type | None:
    """`kstack`, `kstack(perf)`, `ustack(raw, 5)`, `kstack(10)`."""
    mode = str(checker.env.program.config.get("stack_mode", "bpftrace"))
    limit = 127
    arguments = list(call.args)
    if arguments and isinstance(arguments[0], ast.Identifier):
        if arguments[0].name not in STACK_MODES:
            checker.error(f"{call.name}(): unknown stack mode '{arguments[0].name}' (expected one of: {', '.join(STACK_MODES)})", arguments[0].span)
            return None
        mode = arguments.pop(0).name
    if arguments:
        value = literal_int(arguments[0])
        if value is None or len(arguments) > 1:
            checker.error(f"{call.name}() expects an optional stack mode and an integer literal limit", call.span)
            return None
        if not 1 <= value <= MAX_STACK_FRAMES:
            checker.error(f"{call.name}: limit must be between 1 and {MAX_STACK_FRAMES}", arguments[0].span)
            return None
        limit = value
    return StackType(call.name == "ustack", mode, limit)


def _check_nsecs(checker, call: ast.Call) -> Type | None:
    """`nsecs()`, `nsecs(boot)`: the argument is a clock name, not a value."""
    if call.args:
        mode = call.args[0]
        if not isinstance(mode, ast.Identifier):
            given = checker.check(mode) if isinstance(mode, ast.Expr) else None
            checker.error(f"nsecs() only supports timestamp_mode arguments ({describe(given)} provided)", call.span)
            return None
        if mode.name not in TIMESTAMP_MODES:
            checker.error(f"Invalid timestamp mode: {mode.name}", mode.span,
                          f"Valid modes: {', '.join(TIMESTAMP_MODES)}")
            return None
    return UINT64


def _check_type_function(checker, call: ast.Call) -> Type | None:
    """`sizeof(TYPE or EXPR)`, `offsetof(STRUCT, FIELD)`."""
    subject = call.args[0]
    if isinstance(subject, ast.Identifier) and not is_builtin(subject.name):
        # A bare name here may be a typedef (`sizeof(T)`); the grammar cannot
        # tell a typedef name from a variable-like name inside a call.
        named = checker.env.program.type_source.typedef(subject.name)
        if named is not None:
            subject = ast.TypeRef(subject.span, subject.name)
    if isinstance(subject, ast.TypeRef):
        measured = checker.resolve(subject)
    elif call.name == "sizeof":
        measured = checker.check(subject)
    else:
        checker.error("offsetof() expects a struct or union type as its first argument", subject.span)
        return None
    if measured is None:
        return None
    if call.name == "sizeof":
        return UINT64
    field = call.args[1]
    if not isinstance(field, ast.Identifier):
        checker.error("offsetof() expects a field name as its second argument", field.span)
        return None
    if checker.find_field(measured, field.name, call.span) is None:
        return None
    return UINT64
