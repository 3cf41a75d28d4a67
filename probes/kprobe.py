"""Kernel dynamic probes: `kprobe:[MODULE:]FUNC[+OFFSET]` and
`kretprobe:[MODULE:]FUNC`."""

from __future__ import annotations

from typing import Iterator

from .attach_point import argument_count_error, matches, split_attach_point, split_function_offset
from .base import ProbeContext, ProbeError, ProbeSpec, Provider
from .kernel_functions import CORE_MODULE, kprobe_functions
from .spec import Spec

# x86-64 passes six integer arguments in registers; bpftrace's arg0..arg5.
ARGUMENT_REGISTERS = 6
# sargN reads the Nth 8-byte slot of the caller's stack; bpftrace has no bound,
# we allow as many as a program could sensibly name.
STACK_ARGUMENTS = 16


def dynamic_probe_context(is_return: bool) -> ProbeContext:
    """The context of a kprobe/uprobe (registers and stack slots as argN and
    sargN) or of its return probe (retval)."""
    if is_return:
        return ProbeContext(builtins=frozenset({"func", "retval"}), is_return=True)
    builtins = (
        {"func"}
        | {f"arg{index}" for index in range(ARGUMENT_REGISTERS)}
        | {f"sarg{index}" for index in range(STACK_ARGUMENTS)}
    )
    return ProbeContext(builtins=frozenset(builtins), max_arg_registers=ARGUMENT_REGISTERS)


class KprobeProvider(Provider):
    name = "kprobe"
    aliases = ("k",)
    is_return = False
    program_type = "kprobe"

    def attach(self, spec: ProbeSpec, program_fd: int, kernel):
        return [kernel.attach_kprobe(program_fd, spec.function, spec.offset, retprobe=self.is_return)]

    def parse(self, parts: list[str], text: str) -> ProbeSpec:
        if len(parts) not in (1, 2):
            raise argument_count_error(self.name, len(parts), 1, 2)
        module = parts[0] if len(parts) == 2 else ""
        function, offset = split_function_offset(parts[-1], allow_offset=not self.is_return)
        if not function:
            raise ProbeError("kprobes should be attached to a function")
        return Spec(self.name, target=module, function=function, offset=offset)

    def expand(self, spec: ProbeSpec) -> list[ProbeSpec]:
        if not spec.has_wildcard:
            return [spec]
        found = [Spec(self.name, target=module, function=function, offset=spec.offset) for module, function in self._matching(spec)]
        if not found:
            raise ProbeError(f"No {self.name}s matched {spec.name.split(':', 1)[1]}")
        return found

    def context(self, spec: ProbeSpec) -> ProbeContext:
        return dynamic_probe_context(self.is_return)

    def list(self, pattern: str) -> Iterator[str]:
        spec = self.parse(split_attach_point(pattern), pattern)
        for module, function in self._matching(spec):
            yield f"{self.name}:{module}:{function}" if module else f"{self.name}:{function}"

    @staticmethod
    def _matching(spec: ProbeSpec) -> list[tuple[str, str]]:
        """(module, function) of matching kernel functions, module "" for the
        core kernel (so names read `kprobe:vfs_read`)."""
        module_pattern = spec.target or "*"
        return [
            ("" if module == CORE_MODULE else module, function)
            for module, function in kprobe_functions()
            if matches(module_pattern, module) and matches(spec.function, function)
        ]


class KretprobeProvider(KprobeProvider):
    name = "kretprobe"
    aliases = ("kr",)
    is_return = True
