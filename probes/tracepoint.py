"""Kernel tracepoints (`tracepoint:CATEGORY:NAME`): `args` holds the fields of
the event's format file."""

from __future__ import annotations

from typing import Iterator

from . import tracefs
from .attach_point import argument_count_error, has_wildcard, matches, split_attach_point
from .base import ProbeContext, ProbeError, ProbeSpec, Provider
from .spec import Spec


class TracepointProvider(Provider):
    name = "tracepoint"
    aliases = ("t",)
    program_type = "tracepoint"

    def attach(self, spec: ProbeSpec, program_fd: int, kernel):
        return [kernel.attach_tracepoint(program_fd, spec.target, spec.function)]

    def parse(self, parts: list[str], text: str) -> ProbeSpec:
        # `tracepoint:*foo*` searches every category for the event name.
        if len(parts) == 1 and has_wildcard(parts[0]):
            parts = ["*", parts[0]]
        if len(parts) != 2:
            raise argument_count_error(self.name, len(parts), 2)
        category, event = parts
        if not category or not event:
            raise ProbeError("tracepoint probe must have a target")
        return Spec(self.name, target=category, function=event)

    def expand(self, spec: ProbeSpec) -> list[ProbeSpec]:
        if not spec.has_wildcard:
            self._fields(spec)
            return [spec]
        if not tracefs.accessible():
            raise ProbeError(f"cannot list tracepoints {spec.target}:{spec.function}: tracefs is not accessible (run as root)")
        found = [Spec(self.name, target=category, function=event) for category, event in self._matching(spec)]
        if not found:
            raise ProbeError(f"tracepoints not found: {spec.target}:{spec.function}")
        return found

    def context(self, spec: ProbeSpec) -> ProbeContext:
        return ProbeContext(builtins=frozenset({"args"}), args=self._fields(spec))

    def list(self, pattern: str) -> Iterator[str]:
        spec = self.parse(split_attach_point(pattern), pattern)
        for category, event in self._matching(spec):
            yield f"{self.name}:{category}:{event}"

    @staticmethod
    def _matching(spec: ProbeSpec) -> list[tuple[str, str]]:
        return [
            (category, event)
            for category, event in tracefs.events()
            if matches(spec.target, category) and matches(spec.function, event)
        ]

    @staticmethod
    def _fields(spec: ProbeSpec):
        if not tracefs.accessible():
            raise ProbeError(f"cannot read tracepoint {spec.target}:{spec.function}: tracefs is not accessible (run as root)")
        fields = tracefs.event_fields(spec.target, spec.function)
        if fields is None:
            hint = f"Did you mean syscalls:{spec.function}?" if spec.target == "syscall" else None
            raise ProbeError(f"tracepoint not found: {spec.target}:{spec.function}", hint)
        return fields
