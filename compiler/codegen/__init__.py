"""Code generation: the resource plan and the Analysis lowered to LLVM IR,
then to a BPF ELF object (see module.py; target.py holds the LLVM target).

    compile_program(analysis, filter_pid) -> CompiledProgram     (raises CompileError)

llvmlite is imported only when compile_program runs.
"""

from __future__ import annotations


def compile_program(analysis, filter_pid: bool = False):
    from .module import compile_program as compile_module

    return compile_module(analysis, filter_pid)
