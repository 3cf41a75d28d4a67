"""BEGIN and END: run once when tracing starts and once when it stops."""

from __future__ import annotations

from .attach_point import argument_count_error
from .base import ProbeSpec, Provider
from .spec import Spec


class SpecialProvider(Provider):
    # Run by the session itself with BPF_PROG_TEST_RUN: nothing to attach.
    program_type = "raw_tracepoint"
    pid_filtered = False
    def parse(self, parts: list[str], text: str) -> ProbeSpec:
        # bpftrace lets `BEGIN:*` through, so that `-l 'BEGIN:*'`-style patterns work.
        if parts == ["*"]:
            parts = []
        if parts:
            raise argument_count_error(self.name, len(parts), 0)
        return Spec(self.name)


class BeginProvider(SpecialProvider):
    name = "BEGIN"
    aliases = ("begin",)


class EndProvider(SpecialProvider):
    name = "END"
    aliases = ("end",)
