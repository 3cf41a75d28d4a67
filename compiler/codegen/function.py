"""One probe's LLVM function under construction: its builder, stack slots,
the module's map symbols and the attach points the program serves, shared by
the expression, statement, map, event and context lowering."""

from __future__ import annotations

from dataclasses import dataclass

import llvmlite.ir as ir

from auger.compiler.resources import MapPlan, ResourcePlan
from auger.compiler.semantic import Analysis
from auger.probes.base import ProbeContext, ProbeSpec

from .helpers import BYTE_POINTER, I64

# What a program's context pointer points at, by BPF program type.
RAW_TRACEPOINT = "raw_tracepoint"  # u64 args[]
TRACEPOINT = "tracepoint"  # the tracepoint's record, common fields first
KPROBE = "kprobe"  # struct pt_regs (kprobes and uprobes)
PERF_EVENT = "perf_event"  # struct bpf_perf_event_data, pt_regs first
TRACING = "tracing"  # u64 slots: the traced function's arguments, then (fexit) its return value

# The runtime values map (an ARRAY of u64 the session fills before
# attaching): values known only when the program runs.
RUNTIME_MAP = MapPlan("", "auger_runtime", "array", None, None, 4, 8, 4)
RUNTIME_CPID = 0  # the -c child's pid
RUNTIME_FILTER_PID = 1  # -p PID, 0 when not given
RUNTIME_START_NS = 2  # CLOCK_MONOTONIC (bpf_ktime_get_ns) when the session started: `elapsed`
RUNTIME_STOPPED = 3  # 1 once the session ends: probes do nothing more (END runs, maps are read)


@dataclass(frozen=True)
class AttachGroup:
    """The attach points one program serves (all of one provider, all with
    the same code). `probe_ids[i]` is the index of `specs[i].name` in the
    program's probe name table."""

    provider: str
    program_type: str
    specs: tuple[ProbeSpec, ...]
    contexts: tuple[ProbeContext, ...]
    probe_ids: tuple[int, ...]
    pid_filtered: bool

    @property
    def context(self) -> ProbeContext:
        return self.contexts[0]


class ProbeFunction:
    def __init__(self, function: ir.Function, analysis: Analysis, plan: ResourcePlan,
                 map_symbols: dict[str, ir.GlobalVariable], group: AttachGroup, index: int):  # fmt: skip
        self.function = function
        self.index = index  # the program's, in the object (its loop callbacks share it)
        self.analysis = analysis
        self.plan = plan
        self.map_symbols = map_symbols
        self.group = group
        entry = function.append_basic_block("entry")
        # Stack slots go at the top of the entry block, where LLVM promotes
        # them to registers or gives each one fixed stack offset.
        self.entry_builder = ir.IRBuilder(entry)
        body = function.append_basic_block("body")
        self.entry_builder.branch(body)
        self.entry_builder.position_at_start(entry)
        self.builder = ir.IRBuilder(body)
        self._shared_slots: dict[tuple[str, str], ir.AllocaInstr] = {}

    @property
    def context(self) -> ir.Argument:
        return self.function.args[0]

    def stack_slot(self, type_: ir.Type, name: str = "") -> ir.AllocaInstr:
        return self.entry_builder.alloca(type_, name=name)

    def shared_slot(self, type_: ir.Type, name: str) -> ir.AllocaInstr:
        """One stack slot per program for each kind of short-lived value (a
        key, a value to store, a helper's output): written right before the
        helper call that uses it and read right after. A slot per call site
        would overflow the 512-byte stack: LLVM does not reuse slots whose
        address a helper call took."""
        key = (name, str(type_))
        if key not in self._shared_slots:
            self._shared_slots[key] = self.stack_slot(type_, name)
        return self._shared_slots[key]

    def block(self, name: str) -> ir.Block:
        return self.function.append_basic_block(name)

    def map_pointer(self, plan: MapPlan) -> ir.Value:
        return self.builder.bitcast(self.map_symbols[plan.symbol], BYTE_POINTER)

    def finish_block(self) -> None:
        """End the current block with `return 0` unless it already ended."""
        if not self.builder.block.is_terminated:
            self.builder.ret(ir.Constant(I64, 0))

    def return_unless(self, condition: ir.Value, name: str) -> None:
        """Go on only where the i1 `condition` holds; return 0 elsewhere."""
        go_on, stop = self.block(name), self.block(name + "_stop")
        self.builder.cbranch(condition, go_on, stop)
        self.builder.position_at_end(stop)
        self.builder.ret(ir.Constant(I64, 0))
        self.builder.position_at_end(go_on)

    def start_unreachable(self) -> None:
        """After a `return`: later statements go to a block nothing reaches,
        which LLVM then deletes."""
        self.builder.position_at_end(self.block("after_return"))
