"""One probe's LLVM function under construction: its builder, stack slots and
the module's map symbols, shared by the expression, statement, map and event
lowering."""

from __future__ import annotations

import llvmlite.ir as ir

from auger.compiler.resources import MapPlan, ResourcePlan
from auger.compiler.semantic import Analysis

from .helpers import BYTE_POINTER, I64


class ProbeFunction:
    def __init__(self, function: ir.Function, analysis: Analysis, plan: ResourcePlan, map_symbols: dict[str, ir.GlobalVariable]):
        self.function = function
        self.analysis = analysis
        self.plan = plan
        self.map_symbols = map_symbols
        entry = function.append_basic_block("entry")
        # Stack slots go at the top of the entry block, where LLVM promotes
        # them to registers or gives each one fixed stack offset.
        self.entry_builder = ir.IRBuilder(entry)
        body = function.append_basic_block("body")
        self.entry_builder.branch(body)
        self.entry_builder.position_at_start(entry)
        self.builder = ir.IRBuilder(body)

    @property
    def context(self) -> ir.Argument:
        return self.function.args[0]

    def stack_slot(self, type_: ir.Type, name: str = "") -> ir.AllocaInstr:
        return self.entry_builder.alloca(type_, name=name)

    def block(self, name: str) -> ir.Block:
        return self.function.append_basic_block(name)

    def map_pointer(self, plan: MapPlan) -> ir.Value:
        return self.builder.bitcast(self.map_symbols[plan.symbol], BYTE_POINTER)

    def finish_block(self) -> None:
        """End the current block with `return 0` unless it already ended."""
        if not self.builder.block.is_terminated:
            self.builder.ret(ir.Constant(I64, 0))

    def start_unreachable(self) -> None:
        """After a `return`: later statements go to a block nothing reaches,
        which LLVM then deletes."""
        self.builder.position_at_end(self.block("after_return"))
