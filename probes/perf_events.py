"""Perf counter probes: `software:EVENT[:PERIOD]` and `hardware:EVENT[:PERIOD]`
fire every PERIOD events (bpftrace's default per event when omitted)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from .attach_point import argument_count_error, has_wildcard, matches, parse_uint, split_attach_point
from auger.compiler.diagnostics import did_you_mean

from .base import ProbeContext, ProbeError, ProbeSpec, Provider
from .spec import Spec

PERF_TYPE_HARDWARE = 0
PERF_TYPE_SOFTWARE = 1
CPU_CLOCK = 0  # PERF_COUNT_SW_CPU_CLOCK


@dataclass(frozen=True)
class PerfEvent:
    """A perf_event_attr type/config pair and bpftrace's default sample period."""

    name: str
    alias: str
    type: int
    config: int
    default_period: int


SOFTWARE_EVENTS = (
    PerfEvent("alignment-faults", "", PERF_TYPE_SOFTWARE, 7, 1),
    PerfEvent("bpf-output", "", PERF_TYPE_SOFTWARE, 10, 1),
    PerfEvent("context-switches", "cs", PERF_TYPE_SOFTWARE, 3, 1000),
    PerfEvent("cpu-clock", "cpu", PERF_TYPE_SOFTWARE, CPU_CLOCK, 1000000),
    PerfEvent("cpu-migrations", "", PERF_TYPE_SOFTWARE, 4, 1),
    PerfEvent("dummy", "", PERF_TYPE_SOFTWARE, 9, 1),
    PerfEvent("emulation-faults", "", PERF_TYPE_SOFTWARE, 8, 1),
    PerfEvent("major-faults", "", PERF_TYPE_SOFTWARE, 6, 1),
    PerfEvent("minor-faults", "", PERF_TYPE_SOFTWARE, 5, 100),
    PerfEvent("page-faults", "faults", PERF_TYPE_SOFTWARE, 2, 100),
    PerfEvent("task-clock", "", PERF_TYPE_SOFTWARE, 1, 1000000),
)

HARDWARE_EVENTS = (
    PerfEvent("backend-stalls", "", PERF_TYPE_HARDWARE, 8, 1000000),
    PerfEvent("branch-instructions", "branches", PERF_TYPE_HARDWARE, 4, 100000),
    PerfEvent("branch-misses", "", PERF_TYPE_HARDWARE, 5, 100000),
    PerfEvent("bus-cycles", "", PERF_TYPE_HARDWARE, 6, 100000),
    PerfEvent("cache-misses", "", PERF_TYPE_HARDWARE, 3, 1000000),
    PerfEvent("cache-references", "", PERF_TYPE_HARDWARE, 2, 1000000),
    PerfEvent("cpu-cycles", "cycles", PERF_TYPE_HARDWARE, 0, 1000000),
    PerfEvent("frontend-stalls", "", PERF_TYPE_HARDWARE, 7, 1000000),
    PerfEvent("instructions", "", PERF_TYPE_HARDWARE, 1, 1000000),
    PerfEvent("ref-cycles", "", PERF_TYPE_HARDWARE, 9, 1000000),
)


class PerfEventProvider(Provider):
    events: tuple[PerfEvent, ...] = ()
    program_type = "perf_event"

    def attach(self, spec: ProbeSpec, program_fd: int, kernel):
        """One perf event per online CPU, as bpftrace."""
        from auger.runtime.kernel import online_cpus

        event = self.event(spec)
        period = spec.rate or event.default_period
        return [kernel.attach_perf_event(program_fd, event.type, event.config, period=period, cpu=cpu) for cpu in online_cpus()]

    def parse(self, parts: list[str], text: str) -> ProbeSpec:
        if len(parts) not in (1, 2):
            raise argument_count_error(self.name, len(parts), 1, 2)
        event = parts[0]
        if not event:
            raise ProbeError(f"{self.name} probe must have a {self.name} event name")
        if has_wildcard(event):
            raise ProbeError(f"wildcards are not allowed for {self.name} probe type")
        self.event(Spec(self.name, target=event))
        period = 0
        if len(parts) == 2 and parts[1] != "*":
            period = parse_uint(parts[1], f"Invalid count for {self.name} probe")
            if period is None:
                raise ProbeError(f"{self.name} probe can only have an integer count")
        return Spec(self.name, target=event, rate=period)

    def event(self, spec: ProbeSpec) -> PerfEvent:
        """The perf event a spec counts; `spec.rate or event.default_period`
        is its sample period."""
        for event in self.events:
            if spec.target in (event.name, event.alias):
                return event
        names = [name for event in self.events for name in (event.name, event.alias) if name]
        raise ProbeError(f"{spec.target} is not a {self.name} probe", did_you_mean(spec.target, names))

    def context(self, spec: ProbeSpec) -> ProbeContext:
        event = self.event(spec)
        return ProbeContext(
            extra={"perf_type": event.type, "perf_config": event.config, "period": spec.rate or event.default_period}
        )

    def list(self, pattern: str) -> Iterator[str]:
        event_pattern = split_attach_point(pattern)[0] or "*"
        for event in self.events:
            if matches(event_pattern, event.name):
                yield f"{self.name}:{event.name}:"


class SoftwareProvider(PerfEventProvider):
    name = "software"
    aliases = ("s",)
    events = SOFTWARE_EVENTS


class HardwareProvider(PerfEventProvider):
    name = "hardware"
    aliases = ("h",)
    events = HARDWARE_EVENTS
