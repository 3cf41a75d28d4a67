"""Timed probes: `profile:UNIT:RATE` fires on every CPU, `interval:UNIT:RATE`
on one; `profile:DURATION` / `interval:DURATION` (`1s`, `100ms`, a bare
number of nanoseconds) are the current-bpftrace short forms."""

from __future__ import annotations

from auger.compiler.literals import DURATION_NANOSECONDS

from .attach_point import argument_count_error, parse_uint
from .base import ProbeContext, ProbeError, ProbeSpec, Provider
from .perf_events import CPU_CLOCK, PERF_TYPE_SOFTWARE
from .spec import Spec

TIME_UNITS = ("hz", "s", "ms", "us")
NANOSECONDS_PER_MICROSECOND = DURATION_NANOSECONDS["us"]
NANOSECONDS_PER_SECOND = DURATION_NANOSECONDS["s"]


class TimerProvider(Provider):
    program_type = "perf_event"

    def _attach_on(self, spec: ProbeSpec, program_fd: int, kernel, cpu: int):
        """A cpu-clock perf event on `cpu`: sampled at `rate` Hz, or every
        period (cpu-clock counts nanoseconds)."""
        if spec.unit == "hz":
            rate = {"frequency": spec.rate}
        else:
            rate = {"period": self.context(spec).extra["period_ns"]}
        return kernel.attach_perf_event(program_fd, PERF_TYPE_SOFTWARE, CPU_CLOCK, cpu=cpu, **rate)
    def parse(self, parts: list[str], text: str) -> ProbeSpec:
        if len(parts) == 1:
            return self._parse_duration(parts[0])
        if len(parts) != 2:
            raise argument_count_error(self.name, len(parts), 1, 2)
        unit, rate_text = parts
        if not unit:
            raise ProbeError(f"{self.name} probe must have unit of time")
        if unit not in TIME_UNITS:
            raise ProbeError(f"{unit} is not an accepted unit of time", f"valid units: {', '.join(TIME_UNITS)}")
        rate = parse_uint(rate_text, f"Invalid rate of {self.name} probe")
        if rate is None:
            raise ProbeError(f"{self.name} probe must have an integer frequency")
        if rate == 0:
            raise ProbeError(f"{self.name} frequency should be a positive integer")
        return Spec(self.name, unit=unit, rate=rate)

    def _parse_duration(self, text: str) -> ProbeSpec:
        # A bare number counts nanoseconds; a suffix gives the unit.
        nanoseconds = parse_uint(text, f"Invalid rate of {self.name} probe")
        if nanoseconds is None:
            raise ProbeError(f"Invalid rate of {self.name} probe: '{text}' is not a valid duration")
        if nanoseconds < NANOSECONDS_PER_MICROSECOND:
            raise ProbeError(
                f"Invalid rate of {self.name} probe. Minimum is 1000 or 1us. Found: {nanoseconds} nanoseconds"
            )
        return Spec(self.name, unit="us", rate=nanoseconds // NANOSECONDS_PER_MICROSECOND)

    def context(self, spec: ProbeSpec) -> ProbeContext:
        """`extra["period_ns"]`: the time between firings, for the attacher."""
        if spec.unit == "hz":
            period = NANOSECONDS_PER_SECOND // spec.rate
        else:
            period = spec.rate * DURATION_NANOSECONDS[spec.unit]
        return ProbeContext(extra={"period_ns": period})


class ProfileProvider(TimerProvider):
    """Fires on every online CPU."""

    name = "profile"
    aliases = ("p",)

    def attach(self, spec: ProbeSpec, program_fd: int, kernel):
        from auger.runtime.kernel import online_cpus

        return [self._attach_on(spec, program_fd, kernel, cpu) for cpu in online_cpus()]


class IntervalProvider(TimerProvider):
    """Fires on one CPU; `-p` does not filter it (a timer runs in whatever
    task the CPU happens to run)."""

    name = "interval"
    aliases = ("i",)
    pid_filtered = False

    def attach(self, spec: ProbeSpec, program_fd: int, kernel):
        from auger.runtime.kernel import online_cpus

        return [self._attach_on(spec, program_fd, kernel, online_cpus()[0])]
