"""The LLVM BPF target: optimise a module and emit a BPF ELF object or assembly.

llvmlite is imported here and only here on the way to an object, so that
commands that stop before codegen (`--emit ast`, `-l`) never pay for it.

LLVM's BPF back end reports a frame over 512 bytes by printing an error
and exiting the process, which llvmlite cannot catch. Its limit is lifted
here, and emit_object measures each function's frame in the object instead
(stack_depth.py): StackExceeded names the function.
"""

from __future__ import annotations

from functools import lru_cache

from .stack_depth import BPF_STACK_LIMIT, stack_depths

TRIPLE = "bpfel"
_NO_STACK_LIMIT = 1 << 20


class StackExceeded(Exception):
    """`function`'s frame needs `depth` bytes, more than BPF_STACK_LIMIT."""

    def __init__(self, function: str, depth: int):
        super().__init__(f"{function} needs {depth} bytes of BPF stack")
        self.function = function
        self.depth = depth


@lru_cache(maxsize=None)
def _target_machine():
    import llvmlite.binding as llvm

    # initialize_all_* (not the deprecated llvm.initialize) registers the BPF
    # backend and its asm printer, which object emission needs.
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    llvm.set_option("auger", f"-bpf-stack-size={_NO_STACK_LIMIT}")
    return llvm.Target.from_triple(TRIPLE).create_target_machine(opt=2, reloc="static", codemodel="small")


def data_layout() -> str:
    """The BPF data layout. A module without it gets 64-bit loads split into
    narrower ones, which the verifier then rejects on context pointers."""
    return str(_target_machine().target_data)


def _optimised(ir_text: str):
    import llvmlite.binding as llvm

    machine = _target_machine()
    module = llvm.parse_assembly(ir_text)
    module.triple = TRIPLE
    module.data_layout = data_layout()
    module.verify()
    tuning = llvm.PipelineTuningOptions(speed_level=2)
    builder = llvm.create_pass_builder(machine, tuning)
    builder.getModulePassManager().run(module, builder)
    return module


def optimised_ir(ir_text: str) -> str:
    return str(_optimised(ir_text))


def emit_object(ir_text: str) -> bytes:
    """Optimise (-O2) and emit a relocatable BPF ELF object; StackExceeded
    if a function's frame is over the BPF limit."""
    object_code = _target_machine().emit_object(_optimised(ir_text))
    for function, depth in stack_depths(object_code).items():
        if depth > BPF_STACK_LIMIT:
            raise StackExceeded(function, depth)
    return object_code


def emit_assembly(ir_text: str) -> str:
    return _target_machine().emit_assembly(_optimised(ir_text))
