"""Raw tracepoints: `rawtracepoint:[MODULE:]NAME`, the tracepoint's raw
arguments as arg0..argN, without the format-file record."""

from __future__ import annotations

from typing import Iterator

from . import tracefs
from .attach_point import argument_count_error, matches, split_attach_point
from .base import ProbeContext, ProbeError, ProbeSpec, Provider
from .btf_names import raw_tracepoints
from .spec import Spec

# The kernel passes a raw tracepoint at most 12 arguments (MAX_BPF_FUNC_ARGS).
MAX_ARGUMENTS = 12


def known_raw_tracepoints() -> list[tuple[str, str]]:
    """(module, name) pairs: from BTF, else tracefs's events (module unknown: "")."""
    from_btf = raw_tracepoints()
    if from_btf:
        return list(from_btf)
    return sorted({("", event) for _category, event in tracefs.events()})


class RawTracepointProvider(Provider):
    name = "rawtracepoint"
    aliases = ("rt",)
    program_type = "raw_tracepoint"

    def attach(self, spec: ProbeSpec, program_fd: int, kernel):
        return [kernel.attach_raw_tracepoint(program_fd, spec.function)]

    def parse(self, parts: list[str], text: str) -> ProbeSpec:
        if len(parts) not in (1, 2):
            raise argument_count_error(self.name, len(parts), 1, 2)
        if not parts[-1]:
            raise ProbeError("rawtracepoint should be attached to a function")
        return Spec(self.name, target=parts[0] if len(parts) == 2 else "", function=parts[-1])

    def expand(self, spec: ProbeSpec) -> list[ProbeSpec]:
        """Resolves the module as current bpftrace does, so that the name
        reads `rawtracepoint:vmlinux:sched_switch`."""
        found = [Spec(self.name, target=module, function=name) for module, name in self._matching(spec)]
        if not found:
            if not spec.has_wildcard and not known_raw_tracepoints():
                return [spec]  # nothing to check against
            raise ProbeError(f"rawtracepoints not found: {spec.name.split(':', 1)[1]}")
        return found

    def context(self, spec: ProbeSpec) -> ProbeContext:
        return ProbeContext(
            builtins=frozenset(f"arg{index}" for index in range(MAX_ARGUMENTS)),
            max_arg_registers=MAX_ARGUMENTS,
        )

    def list(self, pattern: str) -> Iterator[str]:
        spec = self.parse(split_attach_point(pattern), pattern)
        for module, name in self._matching(spec):
            yield f"{self.name}:{module}:{name}" if module else f"{self.name}:{name}"

    @staticmethod
    def _matching(spec: ProbeSpec) -> list[tuple[str, str]]:
        module_pattern = spec.target or "*"
        return [
            (module, name)
            for module, name in known_raw_tracepoints()
            if matches(module_pattern, module) and matches(spec.function, name)
        ]
