"""Loops: `while`, `for ($i : a..b)`, `for ($kv : @m)`, `break`, `continue`;
and len(@m), which walks the map.

`while` is an ordinary LLVM loop, which the verifier accepts when it can see
it end (kernel 5.3+ bounded loops): it follows the loop iteration by
iteration, so a loop that never ends, or runs too long to follow, is
rejected at load time, as bpftrace's while loops are.

The for loops are helpers that call the body as a callback, as bpftrace
does: bpf_loop for a range (up to 2^23 iterations, which the verifier checks
once, not per iteration), bpf_for_each_map_elem for a map. A callback is a
static function in the section `callback_section(probe section)`, which the
loader appends to the probe's program (BPF_PSEUDO_FUNC, BTF func_info). It
has a stack of its own: the probe's scalar variables the body uses go in
and out through a context array on the probe's stack, whose word 0 says the
body returned (return or exit()), which ends the probe too, and word 1 holds
a range's start. Wide variables (strings, tuples) are in the per-CPU scratch
value, which both share: the callback uses the same regions, and its own
temporaries go after the probe's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import llvmlite.ir as ir

from auger.compiler import ast
from auger.compiler.resources import MapPlan, element_offsets, slot_size, unsupported
from auger.compiler.semantic.type_rules import as_integer
from auger.compiler.types import AggregateType, TupleType

from . import maps, values
from .expressions import constant, narrow
from .function import ProbeFunction
from .helpers import BYTE_POINTER, I32, I64
from .scratch import scratch_space

_FOR_EACH_MAP_ELEM = 164
_LOOP = 181
# bpf_loop takes a u32 count and refuses more than this many iterations
# (BPF_MAX_LOOPS), which a larger count becomes instead of wrapping.
_TOO_MANY_LOOPS = (1 << 23) + 1
# What a callback returns: go on, or stop the walk.
_NEXT, _STOP = 0, 1
# Context words before the captured variables.
_RETURNED, _START, _FIRST_CAPTURED = 0, 1, 2


_CALLBACKS = "/callbacks"


def callback_section(section: str) -> str:
    """The section of the loop callbacks of the program in `section` (or of
    the program a callback in `section` belongs to: loops nest)."""
    return section if section.endswith(_CALLBACKS) else section + _CALLBACKS


@dataclass(frozen=True)
class _Loop:
    next: ir.Block  # where `continue` goes
    exit: ir.Block  # where `break` goes


# Sets up the loop variable in the callback: (body lowering, the callback's
# arguments, the i64* of the context's start word).
Binder = Callable[["LoopLowering", tuple[ir.Value, ...], ir.Value], None]


class LoopLowering:
    """A mixin of the statement lowering, which gives it `fn`, `statement`,
    `truth`, `lower`, `store`, `variables`, `variable_slot`,
    `variable_types`, an empty `loops` list (the loops being lowered,
    innermost last) and `returned_flag` (None, or in a callback the i64*
    that says the body returned)."""

    loops: list[_Loop]
    returned_flag: ir.Value | None

    def return_from_probe(self) -> None:
        """`return`: from a for-loop callback, stop the walk and tell the probe."""
        if self.returned_flag is None:
            self.fn.builder.ret(ir.Constant(I64, 0))
            return
        self.fn.builder.store(constant(1), self.returned_flag)
        self.fn.builder.ret(ir.Constant(I64, _STOP))

    def _body(self, body: ast.Block, loop: _Loop) -> None:
        self.loops.append(loop)
        self.statement(body)
        self.loops.pop()
        if not self.fn.builder.block.is_terminated:
            self.fn.builder.branch(loop.next)

    def statement_While(self, node: ast.While) -> None:
        builder = self.fn.builder
        test, body, done = self.fn.block("while_test"), self.fn.block("while_body"), self.fn.block("while_done")
        builder.branch(test)
        builder.position_at_end(test)
        builder.cbranch(self.truth(node.condition), body, done)
        builder.position_at_end(body)
        self._body(node.body, _Loop(test, done))
        builder.position_at_end(done)

    def statement_ForRange(self, node: ast.ForRange) -> None:
        """The end is exclusive; both bounds are evaluated once, before the
        loop; assigning to the counter does not change the iterations."""
        builder = self.fn.builder
        counter_type = as_integer(self.variable_types.get(node.variable.name))
        start, end = self.lower(node.start), self.lower(node.end)
        if counter_type is not None:
            start, end = narrow(builder, start, counter_type), narrow(builder, end, counter_type)
        compare = builder.icmp_signed if counter_type is None or counter_type.signed else builder.icmp_unsigned
        count = builder.select(compare("<", start, end), builder.sub(end, start), constant(0))
        count = builder.select(builder.icmp_unsigned(">", count, constant(_TOO_MANY_LOOPS)),
                               constant(_TOO_MANY_LOOPS), count)  # fmt: skip

        def bind(body: LoopLowering, arguments: tuple[ir.Value, ...], start_word: ir.Value) -> None:
            counter = body.variable_slot(node.variable)
            body.fn.builder.store(body.fn.builder.add(body.fn.builder.load(start_word), arguments[0]), counter)

        def call(callback: ir.Value, context: ir.Value) -> None:
            # Not called for no iterations: the verifier skips the callback
            # of a bpf_loop it knows runs 0 times, deletes it as dead code,
            # and then fails on the load of its address.
            with builder.if_then(builder.icmp_unsigned("!=", count, constant(0))):
                maps.call_unlisted_helper(self.fn, _LOOP, I64, count, callback, context, constant(0))

        self._lower_as_callback(node.body, node.variable.name, start, bind, call, context_argument=1)

    def statement_ForMap(self, node: ast.ForMap) -> None:
        plan = self.fn.plan.map(node.map.name)

        def bind(body: LoopLowering, arguments: tuple[ir.Value, ...], start_word: ir.Value) -> None:
            _, key, value, _ = arguments
            body.variables[node.variable.name] = _pair(body, node, key, value)

        def call(callback: ir.Value, context: ir.Value) -> None:
            maps.call_unlisted_helper(self.fn, _FOR_EACH_MAP_ELEM, I64, self.fn.map_pointer(plan), callback,
                                      context, constant(0))  # fmt: skip

        self._lower_as_callback(node.body, node.variable.name, constant(0), bind, call, context_argument=3)

    def _lower_as_callback(self, body: ast.Block, own: str, start: ir.Value, bind: Binder,
                           call: Callable[[ir.Value, ir.Value], None], context_argument: int) -> None:  # fmt: skip
        """The loop body `body` (whose loop variable is `own`) as a callback
        that `call(callback, context)` runs, which gets the context as its
        argument `context_argument`; `start` goes in the context."""
        fn, builder = self.fn, self.fn.builder
        captured = self._captured(body, own)
        context = fn.stack_slot(ir.ArrayType(I64, _FIRST_CAPTURED + len(captured)), "loop_context")
        words = [builder.gep(context, [ir.Constant(I32, 0), ir.Constant(I32, index)])
                 for index in range(_FIRST_CAPTURED + len(captured))]  # fmt: skip
        builder.store(constant(0), words[_RETURNED])
        builder.store(start, words[_START])
        for variable, word in zip(captured, words[_FIRST_CAPTURED:]):
            # Not assigned yet (lowering follows the program's order): 0.
            assigned = variable.name in self.variables
            builder.store(self.lower(variable) if assigned else constant(0), word)
        callback = self._callback(body, captured, bind, context_argument)
        call(builder.bitcast(callback, BYTE_POINTER), builder.bitcast(context, BYTE_POINTER))
        for variable, word in zip(captured, words[_FIRST_CAPTURED:]):
            builder.store(builder.load(word), self.variable_slot(variable))
        returned, go_on = fn.block("loop_returned"), fn.block("loop_done")
        builder.cbranch(builder.icmp_unsigned("!=", builder.load(words[_RETURNED]), constant(0)), returned, go_on)
        builder.position_at_end(returned)
        self.return_from_probe()
        builder.position_at_end(go_on)

    def _captured(self, body: ast.Block, own: str) -> list[ast.Variable]:
        """One node per scalar probe variable the body uses (not the loop's own)."""
        used: dict[str, ast.Variable] = {}
        for inner in body.walk():
            if isinstance(inner, ast.Variable) and inner.name != own:
                used.setdefault(inner.name, inner)
        return [variable for variable in used.values() if not values.is_wide(self.variable_types.get(variable.name))]

    def _callback(self, body: ast.Block, captured: list[ast.Variable], bind: Binder,
                  context_argument: int) -> ir.Function:  # fmt: skip
        fn = self.fn
        function = _new_callback(fn)
        callback = ProbeFunction(function, fn.analysis, fn.plan, fn.map_symbols, fn.group, fn.index)
        # Wide values the probe holds stay where they are in the scratch value.
        scratch_space(callback).next_free = scratch_space(fn).next_free
        lowering = type(self)(callback, self.variable_types)
        words = callback.builder.bitcast(function.args[context_argument], I64.as_pointer())
        lowering.returned_flag = callback.builder.gep(words, [ir.Constant(I64, _RETURNED)])
        for name, region in self.variables.items():
            if values.is_wide(self.variable_types.get(name)):
                lowering.variables[name] = _same_region(lowering, region, body)
        for index, variable in enumerate(captured, _FIRST_CAPTURED):
            lowering.variables[variable.name] = callback.builder.gep(words, [ir.Constant(I64, index)])
        bind(lowering, tuple(function.args), callback.builder.gep(words, [ir.Constant(I64, _START)]))
        stop, next_ = callback.block("loop_stop"), callback.block("loop_next")
        for block, code in ((stop, _STOP), (next_, _NEXT)):
            ir.IRBuilder(block).ret(ir.Constant(I64, code))
        lowering._body(body, _Loop(next_, stop))
        return function

    def statement_Break(self, node: ast.Break) -> None:
        self._jump(self.loops[-1].exit)

    def statement_Continue(self, node: ast.Continue) -> None:
        self._jump(self.loops[-1].next)

    def _jump(self, target: ir.Block) -> None:
        self.fn.builder.branch(target)
        self.fn.start_unreachable()


def map_length(fn: ProbeFunction, plan: MapPlan) -> ir.Value:
    """len(@m): bpf_for_each_map_elem returns how many entries it walked."""
    function = _new_callback(fn)
    ir.IRBuilder(function.append_basic_block("entry")).ret(ir.Constant(I64, _NEXT))
    return maps.call_unlisted_helper(fn, _FOR_EACH_MAP_ELEM, I64, fn.map_pointer(plan),
                                     fn.builder.bitcast(function, BYTE_POINTER),
                                     ir.Constant(BYTE_POINTER, None), constant(0))  # fmt: skip


def _new_callback(fn: ProbeFunction) -> ir.Function:
    """An empty `static long callback(map or index, key or context, value,
    context)` of the probe: bpf_for_each_map_elem passes four arguments,
    bpf_loop the first two (the BTF describes every callback with four)."""
    module = fn.function.module
    function = ir.Function(module, ir.FunctionType(I64, [I64] + [BYTE_POINTER] * 3),
                           f"{fn.function.name}_loop_{len(module.functions)}")  # fmt: skip
    function.linkage = "internal"
    function.section = callback_section(fn.function.section)
    return function


def _same_region(body: LoopLowering, region: ir.Value, node: ast.Node) -> ir.Value:
    """The callback's address of a probe variable's scratch region (the
    probe's is `base + constant offset`, scratch.ScratchSpace.allocate)."""
    offset = region.indices[0] if isinstance(region, ir.GEPInstr) and len(region.indices) == 1 else None
    if not isinstance(offset, ir.Constant):
        raise unsupported("this wide variable inside a for loop", node.span)
    return body.fn.builder.gep(scratch_space(body.fn).base, [offset])


def _pair(body: LoopLowering, node: ast.ForMap, key: ir.Value, value: ir.Value) -> ir.Value:
    """`$kv`: the entry's key and value as a tuple in scratch; an
    aggregation's value combined over the CPUs (as reading `@m[k]` gives)."""
    fn = body.fn
    plan = fn.plan.map(node.map.name)
    value_type = plan.value
    if isinstance(value_type, AggregateType):  # the analyser's type of $kv.1
        value_type = as_integer(value_type)
        if value_type is None:
            raise unsupported(f"a for loop over the {plan.value} map {plan.name}", node.map.span)
    pair_type = TupleType((plan.key, value_type))
    key_at, value_at = element_offsets(pair_type)
    pair = scratch_space(fn).allocate(slot_size(pair_type), node.span)
    values.copy(fn.builder, values.at(fn.builder, pair, key_at), key, slot_size(plan.key))
    if isinstance(plan.value, AggregateType):
        combined = maps.read_combined(fn, plan, key)
        values.store(fn, value_type, values.at(fn.builder, pair, value_at), combined)
    else:
        values.copy(fn.builder, values.at(fn.builder, pair, value_at), value, slot_size(value_type))
    return pair
