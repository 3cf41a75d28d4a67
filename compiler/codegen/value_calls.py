"""Builtin functions that yield values (str, buf, strncmp, ntop, ...) and the
calls that send a value to userspace to be shown there (print, time, cat,
system, join), lowered as a mixin of ExpressionLowering.

Anything the kernel cannot or need not do is left to userspace: a symbol's
name (ksym/usym), a user's name, an address as text (ntop), a time as text
(strftime, time): the record carries the raw value and its type says how
runtime/events.py shows it.
"""

from __future__ import annotations

import ipaddress
import signal as signals
from functools import cached_property

import llvmlite.ir as ir

from auger.compiler import ast
from auger.compiler.diagnostics import CompileError, error
from auger.compiler.resources import slot_size, unsupported
from auger.compiler.semantic.literals import literal_int, literal_string
from auger.compiler.semantic import AnalysisOptions
from auger.compiler.semantic.environment import ProgramEnvironment
from auger.compiler.semantic.maps import MapTable
from auger.compiler.type_names import resolve_type
from auger.compiler.semantic.type_rules import as_integer
from auger.compiler.types import UINT64, ArrayType, IntType, PointerType, RecordType, SpecialType, StringType, Type

from . import context, strings, values
from .events import emit_event
from .stacks import lower_stack, stack_length
from .helpers import (BYTE_POINTER, GET_CURRENT_PID_TGID, I64, PROBE_READ_KERNEL, PROBE_READ_USER, SEND_SIGNAL,
                      call_helper)

AF_INET, AF_INET6 = 2, 10
_MASK64 = (1 << 64) - 1
KALLSYMS = "/proc/kallsyms"
# Calls lowered as statements by `output_call` (print of a whole map is a map action).
OUTPUT_CALLS = ("printf", "print", "time", "cat", "system", "join", "signal")


class ValueCalls:
    @cached_property
    def program_environment(self) -> ProgramEnvironment:
        """The analyser's view of the script's C definitions (before kernel
        BTF) and #define constants. The Analysis does not carry them, so the
        same semantic code builds them again here, once per probe."""
        analysis = self.fn.analysis
        return ProgramEnvironment(analysis.program, AnalysisOptions(), MapTable(analysis.program), analysis.config)

    def constant_value(self, node: ast.Identifier) -> ir.Value | None:
        """A #define or enum constant's value (None for any other name)."""
        environment = self.program_environment
        if node.name in environment.defines:
            return ir.Constant(I64, environment.defines[node.name] & _MASK64)
        found = environment.type_source.enum_constant(node.name)
        return ir.Constant(I64, found[1] & _MASK64) if found is not None else None

    def lower_value_call(self, node: ast.Call) -> ir.Value:
        """The value of a builtin function call."""
        method = getattr(self, "_call_" + node.name, None)
        if method is None:
            raise unsupported(f"{node.name}() as a value", node.span)
        return method(node)

    def output_call(self, node: ast.Call) -> None:
        """A statement-level call that sends its arguments to userspace
        (the arguments' scratch space is free again once the record is sent)."""
        if node.name == "signal":
            self._signal(node)
            return
        event = self.fn.plan.event_of_call[id(node)]
        with self.scratch.temporaries():
            if node.name == "join":
                arguments = [self._join_arguments(node, event.fields[0].type)]
            elif node.name in ("print", "time"):
                arguments = [self.lower_field(argument) for argument in node.args[:len(event.fields)]]
            else:
                arguments = [self.lower_field(argument) for argument in node.args[1:]]
            emit_event(self.fn, event, arguments)

    # ------------------------------------------------------------ memory reads

    def _address(self, expr: ast.Expr) -> tuple[ir.Value, bool | None]:
        """Where str()/buf() read from (an i64) and whether it is user
        memory (None: decide by probe kind). A tracepoint's `__data_loc` or
        `char[N]` field lies in the context record, kernel memory."""
        if context.is_args_access(expr):
            field = context.args_field(self.fn, expr)
            if field.type == SpecialType("data_loc", 4):
                return context.data_loc_pointer(self.fn, field), False
            if isinstance(field.type, ArrayType):
                return context.field_address(self.fn, field), False
        return self.lower(expr), _memory_of(expr)

    def _call_str(self, node: ast.Call) -> ir.Value:
        type_ = self.type_of(node)
        source = node.args[0]
        if isinstance(self.type_of(source), StringType):
            return self.lower_as(source, type_)
        length = self.lower(node.args[1]) if len(node.args) == 2 else None
        address, user = self._address(source)
        return strings.read_string(self.fn, address, type_, length, user)

    def _call_buf(self, node: ast.Call) -> ir.Value:
        type_ = self.type_of(node)
        source = node.args[0]
        length = self.lower(node.args[1]) if len(node.args) == 2 else None
        if values.is_wide(self.type_of(source)):  # an array or string value: its bytes
            address = self.builder.ptrtoint(self.lower(source), I64)
            return strings.read_buffer(self.fn, address, type_, length, False)
        address, user = self._address(source)
        return strings.read_buffer(self.fn, address, type_, length, user)

    def lower_args_array(self, node: ast.FieldAccess) -> ir.Value:
        """A `char[N]`/`u8[N]` field of a tracepoint record, copied to scratch."""
        field = context.args_field(self.fn, node)
        address = self.scratch.allocate(slot_size(field.type), node.span)
        values.zero(self.builder, address, slot_size(field.type))
        source = self.builder.inttoptr(context.field_address(self.fn, field), address.type)
        call_helper(self.builder, PROBE_READ_KERNEL, address, ir.Constant(I64, field.type.size), source)
        return address

    def lower_member(self, node: ast.FieldAccess) -> ir.Value:
        """`ptr->field`, `ptr.field`, `record.field` of a C struct:
        read from memory (user or kernel by probe kind, as str()). A
        struct-typed expression lowers to its address, so a chain reads
        only the member at its end. Integers, enums, bools and pointers are
        i64s; arrays are copied to scratch."""
        operand_type = self.type_of(node.operand)
        record = operand_type.target if isinstance(operand_type, PointerType) else operand_type
        fields = self.program_environment.type_source.fields(record) if isinstance(record, RecordType) else ()
        field = next((field for field in fields if field.name == node.field), None)
        if field is None or field.bit_size:
            raise unsupported(f"field access on {operand_type}", node.span)
        address = self.builder.add(self.lower(node.operand), ir.Constant(I64, field.offset))
        return self.read_at(address, field.type, node)

    def lower_dereference(self, node: ast.Unary) -> ir.Value:
        """`*ptr`: the value the pointer points at, read as a member is."""
        return self.read_at(self.lower(node.operand), self.type_of(node), node)

    def read_at(self, address: ir.Value, type_: Type, node: ast.Expr) -> ir.Value:
        """The `type_` value at `address` (an i64), read from memory (user
        or kernel by probe kind, as str()). A struct is its address (a
        chain reads only the member at its end); integers, enums, bools and
        pointers are i64s; arrays are copied to scratch."""
        if isinstance(type_, RecordType):
            return address
        if values.is_wide(type_):
            destination = self.scratch.allocate(slot_size(type_), node.span)
            self._read_memory(destination, slot_size(type_), type_.size, address, _memory_of(node))
            return destination
        with self.scratch.temporaries():
            destination = self.scratch.allocate(8, node.span)
            self._read_memory(destination, 8, type_.size, address, _memory_of(node))
            word = values.load(self.fn, UINT64, destination)
        integer = as_integer(type_)
        return values.narrow(self.builder, word, integer) if isinstance(integer, IntType) else word

    def _read_memory(self, destination: ir.Value, slot: int, size: int, address: ir.Value, user: bool | None) -> None:
        """`size` bytes at `address` (an i64) into a zeroed `slot` at
        `destination`, from user memory or not (None: by probe kind)."""
        values.zero(self.builder, destination, slot)
        helper = PROBE_READ_USER if (strings.reads_user_memory(self.fn) if user is None else user) else PROBE_READ_KERNEL
        call_helper(self.builder, helper, destination, ir.Constant(I64, size), self.builder.inttoptr(address, BYTE_POINTER))

    # ------------------------------------------------------------ strings

    def _call_strncmp(self, node: ast.Call) -> ir.Value:
        with self.scratch.temporaries():
            same = strings.equal(self.fn, self.string_operand(node.args[0]), self.string_operand(node.args[1]),
                                 literal_int(node.args[2]))
        return self.builder.zext(self.builder.not_(same), I64)

    def _call_strcontains(self, node: ast.Call) -> ir.Value:
        with self.scratch.temporaries():
            found = strings.contains(self.fn, self.string_operand(node.args[0]), self.string_operand(node.args[1]))
        return self.builder.zext(found, I64)

    # ------------------------------------------------------------ integers

    def _call_bswap(self, node: ast.Call) -> ir.Value:
        type_ = self.type_of(node)
        bits = type_.bits if isinstance(type_, IntType) else 64
        value = self.lower(node.args[0])
        if bits == 8:
            return value
        swapped = self.builder.bswap(self.builder.trunc(value, ir.IntType(bits)) if bits < 64 else value)
        return self.builder.zext(swapped, I64) if bits < 64 else swapped

    def _call_sizeof(self, node: ast.Call) -> ir.Value:
        return ir.Constant(I64, self._measured(node).size)

    def _call_offsetof(self, node: ast.Call) -> ir.Value:
        record = self._measured(node)
        fields = self.program_environment.type_source.fields(record) if isinstance(record, RecordType) else ()
        field = next((field for field in fields if field.name == node.args[1].name), None)
        if field is None:
            raise unsupported(f"offsetof() in {record}", node.span)
        return ir.Constant(I64, field.offset)

    def _measured(self, node: ast.Call) -> Type:
        """sizeof/offsetof's subject: an expression's type, or a named type."""
        subject = node.args[0]
        if not isinstance(subject, ast.TypeRef):
            return self.type_of(subject)
        measured = resolve_type(subject, self.program_environment.type_source)
        if measured is None:
            raise unsupported(f"{node.name}() of the type {subject.name}", node.span)
        return measured

    def _call_kaddr(self, node: ast.Call) -> ir.Value:
        name = literal_string(node.args[0])
        address = kernel_address(name)
        if address is None:
            raise CompileError([error(f"Failed to resolve kernel symbol: {name}", node.span)])
        return ir.Constant(I64, address)

    def _call_ksym(self, node: ast.Call) -> ir.Value:
        return self.lower(node.args[0])

    def _call_strerror(self, node: ast.Call) -> ir.Value:
        return self.lower(node.args[0])

    def _call_kstack(self, node: ast.Call) -> ir.Value:
        return lower_stack(self.fn, self.type_of(node), node.span)

    _call_ustack = _call_kstack

    def _call_len(self, node: ast.Call) -> ir.Value:
        return stack_length(self.fn, node.args[0])

    # ------------------------------------------------------------ wide specials

    def _call_usym(self, node: ast.Call) -> ir.Value:
        return self.user_symbol(node, self.lower(node.args[0]))

    def user_symbol(self, node: ast.Expr, address: ir.Value) -> ir.Value:
        """A usym value: the address and the pid whose memory map names it."""
        pid = self.builder.lshr(call_helper(self.builder, GET_CURRENT_PID_TGID), ir.Constant(I64, 32))
        return self._words(node, [address, pid])

    def _call_strftime(self, node: ast.Call) -> ir.Value:
        """The time in ns and the index of the format in the plan's table."""
        index = self.fn.plan.strftime_formats.index(literal_string(node.args[0]))
        return self._words(node, [self.lower(node.args[1]), ir.Constant(I64, index)])

    def _call_pton(self, node: ast.Call) -> ir.Value:
        text = literal_string(node.args[0])
        try:
            packed = ipaddress.ip_address(text).packed
        except ValueError:
            raise CompileError([error(f"pton() cannot parse the address {text!r}", node.span)]) from None
        return strings.literal(self.fn, packed, self.type_of(node))

    def _call_ntop(self, node: ast.Call) -> ir.Value:
        """An inet value: the address family word, then 16 address bytes."""
        address_expr = node.args[-1]
        address_type = self.type_of(address_expr)
        if len(node.args) == 2:
            family = self.lower(node.args[0])
        else:
            family = ir.Constant(I64, AF_INET6 if isinstance(address_type, ArrayType) and address_type.length == 16 else AF_INET)
        result = self.scratch.allocate(slot_size(self.type_of(node)), node.span)
        values.zero(self.builder, result, slot_size(self.type_of(node)))
        values.store(self.fn, IntType(64, False), result, family)
        address = self.lower(address_expr)
        if values.is_wide(address_type):
            values.copy(self.builder, values.at(self.builder, result, 8), address, min(slot_size(address_type), 16))
        else:  # an IPv4 address as an integer, in memory (network) order
            values.store(self.fn, IntType(64, False), values.at(self.builder, result, 8), address)
        return result

    def _call_macaddr(self, node: ast.Call) -> ir.Value:
        argument = node.args[0]
        type_ = self.type_of(node)
        result = self.scratch.allocate(slot_size(type_), node.span)
        values.zero(self.builder, result, slot_size(type_))
        if values.is_wide(self.type_of(argument)):
            values.copy(self.builder, result, self.lower(argument), 8)
        else:  # a pointer to the six bytes
            source = self.builder.inttoptr(self.lower(argument), result.type)
            helper = PROBE_READ_USER if strings.reads_user_memory(self.fn) else PROBE_READ_KERNEL
            call_helper(self.builder, helper, result, ir.Constant(I64, type_.byte_size), source)
        return result

    def _words(self, node: ast.Expr, words: list[ir.Value]) -> ir.Value:
        result = self.scratch.allocate(slot_size(self.type_of(node)), node.span)
        for index, word in enumerate(words):
            values.store(self.fn, IntType(64, False), values.at(self.builder, result, 8 * index), word)
        return result

    # ------------------------------------------------------------ output calls

    def _join_arguments(self, node: ast.Call, type_) -> ir.Value:
        """join(argv): the strings of a NULL-terminated array of user
        pointers (at most as many as the record's tuple holds)."""
        builder = self.builder
        result = self.scratch.allocate(slot_size(type_), node.span)
        values.zero(builder, result, slot_size(type_))
        argv = self.lower(node.args[0])
        pointer = self.fn.stack_slot(I64, "join_pointer")
        offsets = [sum(slot_size(element) for element in type_.elements[:index]) for index in range(len(type_.elements))]
        done = self.fn.block("join_done")
        for index, (element, offset) in enumerate(zip(type_.elements, offsets)):
            builder.store(ir.Constant(I64, 0), pointer)
            source = builder.inttoptr(builder.add(argv, ir.Constant(I64, 8 * index)), BYTE_POINTER)
            call_helper(builder, PROBE_READ_USER, builder.bitcast(pointer, BYTE_POINTER), ir.Constant(I64, 8), source)
            address = builder.load(pointer)
            more = self.fn.block("join_next")
            builder.cbranch(builder.icmp_unsigned("==", address, ir.Constant(I64, 0)), done, more)
            builder.position_at_end(more)
            strings.read_into(self.fn, values.at(builder, result, offset), address, element, True)
        builder.branch(done)
        builder.position_at_end(done)
        return result

    def _signal(self, node: ast.Call) -> None:
        name = literal_string(node.args[0])
        if name is None:
            number = self.lower(node.args[0])
        else:
            try:
                number = ir.Constant(I64, int(getattr(signals, name if name.startswith("SIG") else "SIG" + name)))
            except AttributeError:
                raise CompileError([error(f"Invalid signal: {name}", node.args[0].span)]) from None
        call_helper(self.builder, SEND_SIGNAL, number)


def kernel_address(name: str) -> int | None:
    """kaddr(): the symbol's address from /proc/kallsyms, read when the
    program is compiled (as bpftrace resolves it)."""
    try:
        with open(KALLSYMS) as symbols:
            for line in symbols:
                fields = line.split()
                if len(fields) >= 3 and fields[2] == name:
                    return int(fields[0], 16)
    except OSError:
        return None
    return None


def _memory_of(expr: ast.Expr) -> bool | None:
    """False (kernel memory) for what a pointer reached from `curtask`
    points at, whatever the probe kind: the task_struct is the kernel's
    (bpftrace 0.27 knows this from the pointer's BTF origin). None: decide
    by probe kind."""
    while isinstance(expr, (ast.FieldAccess, ast.Index, ast.Cast, ast.Unary)):
        expr = expr.operand
    return False if isinstance(expr, ast.Identifier) and expr.name == "curtask" else None
