"""The LLVM BPF target: optimise a module and emit a BPF ELF object or assembly.

llvmlite's binding (LLVM itself: ~30 ms to load and ~80 MB resident once it has compiled) is
imported here and only here, and only when an object is not in the object
cache (compiler/object_cache.py): a program compiled before never loads it.
For that, the data layout the IR module carries is a constant here, which a
test checks against LLVM's.

LLVM's BPF back end reports a frame over 512 bytes by printing an error
and exiting the process, which llvmlite cannot catch. Its limit is lifted
here, and emit_object measures each function's frame in the object instead
(stack_depth.py): StackExceeded names the function.
"""

from __future__ import annotations

from functools import lru_cache

from auger.compiler import object_cache

TRIPLE = "bpfel"
# What LLVM's BPF target machine reports for TRIPLE (tests/compiler/test_object_cache.py).
DATA_LAYOUT = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"
_NO_STACK_LIMIT = 1 << 20
_MACHINE = {"opt": 2, "reloc": "static", "codemodel": "small"}
_SPEED_LEVEL = 2
# Part of every object cache key: raise it when the way objects are made
# here changes in a way the IR text and the settings above do not show, or
# when stack_depth.py would now reject objects it passed (a cached object
# is not measured again).
OBJECT_FORMAT = 1


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
    return llvm.Target.from_triple(TRIPLE).create_target_machine(**_MACHINE)


def data_layout() -> str:
    """The BPF data layout. A module without it gets 64-bit loads split into
    narrower ones, which the verifier then rejects on context pointers."""
    return DATA_LAYOUT


def llvm_data_layout() -> str:
    """The data layout LLVM's target machine has (loads LLVM)."""
    return str(_target_machine().target_data)


def _optimised(ir_text: str):
    import llvmlite.binding as llvm

    machine = _target_machine()
    module = llvm.parse_assembly(ir_text)
    module.triple = TRIPLE
    module.data_layout = llvm_data_layout()
    module.verify()
    tuning = llvm.PipelineTuningOptions(speed_level=_SPEED_LEVEL)
    builder = llvm.create_pass_builder(machine, tuning)
    builder.getModulePassManager().run(module, builder)
    return module


def optimised_ir(ir_text: str) -> str:
    return str(_optimised(ir_text))


def emit_object(ir_text: str) -> bytes:
    """Optimise (-O2) and emit a relocatable BPF ELF object; StackExceeded
    if a function's frame is over the BPF limit. An object is cached only
    once it passed that check, so a cached one needs no other."""
    cache_key = object_cache.key(ir_text, *_object_settings())
    object_code = object_cache.load(cache_key)
    if object_code is None:
        from .stack_depth import BPF_STACK_LIMIT, stack_depths  # here: a cached object skips the ELF reader

        object_code = _target_machine().emit_object(_optimised(ir_text))
        for function, depth in stack_depths(object_code).items():
            if depth > BPF_STACK_LIMIT:
                raise StackExceeded(function, depth)
        object_cache.store(cache_key, object_code)
    return object_code


def _object_settings() -> tuple[str, ...]:
    """Everything besides the IR text that the object depends on: LLVM's
    build (llvmlite's version names it; reading it loads no LLVM), the
    target and its settings, and this module's way of using them."""
    import llvmlite

    return (f"llvmlite {llvmlite.__version__}", TRIPLE, repr(sorted(_MACHINE.items())),
            f"speed {_SPEED_LEVEL}", f"stack {_NO_STACK_LIMIT}", f"format {OBJECT_FORMAT}")


def emit_assembly(ir_text: str) -> str:
    return _target_machine().emit_assembly(_optimised(ir_text))
