"""Timed probes: `profile:UNIT:RATE` fires on every CPU, `interval:UNIT:RATE`
on one; `profile:DURATION` / `interval:DURATION` (`1s`, `100ms`, a bare
number of nanoseconds) are the current-bpftrace short forms."""

from __future__ import annotations

from auger.compiler.literals import DURATION_NANOSECONDS

from .attach_point import argument_count_error, parse_uint
from .base import ProbeContext, ProbeError, ProbeSpec, Provider
from .spec import Spec

TIME_UNITS = ("hz", "s", "ms", "us")
NANOSECONDS_PER_MICROSECOND = DURATION_NANOSECONDS["us"]
NANOSECONDS_PER_SECOND = DURATION_NANOSECONDS["s"]


class TimerProvider(Provider):
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
    name = "profile"
    aliases = ("p",)


class IntervalProvider(TimerProvider):
    name = "interval"
    aliases = ("i",)
