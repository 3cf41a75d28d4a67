"""Probe providers by name: the one place the compiler, the session and the
CLI (`-l`) go through, so that none of them knows a probe kind by name.

Providers register here (the built-in kinds below; users may add their own
with `register`). Names and aliases match exactly first, then ignoring case
(`Tracepoint:`, `begin`), which keeps `U` (usdt) apart from `u` (uprobe)."""

from __future__ import annotations

from typing import Iterator, Sequence

from auger.compiler.diagnostics import did_you_mean

from .attach_point import has_wildcard, matches, split_attach_point
from .base import ProbeContext, ProbeError, ProbeSpec, Provider
from .fentry import FentryProvider, FexitProvider
from .kprobe import KprobeProvider, KretprobeProvider
from .perf_events import HardwareProvider, SoftwareProvider
from .rawtracepoint import RawTracepointProvider
from .special import BeginProvider, EndProvider
from .timer import IntervalProvider, ProfileProvider
from .tracepoint import TracepointProvider
from .uprobe import UprobeProvider, UretprobeProvider
from .usdt import UsdtProvider
from .watchpoint import AsyncWatchpointProvider, WatchpointProvider

_PROVIDERS: dict[str, Provider] = {}

# What `auger -l` searches when the pattern names no provider, as bpftrace's
# kernel list: return probes and user-space kinds are left out.
_LISTED_BY_DEFAULT = ("kprobe", "tracepoint", "software", "hardware", "fentry", "rawtracepoint")


def register(new: Provider) -> None:
    """Make a provider available under its name and aliases."""
    _PROVIDERS[new.name] = new


def providers() -> list[Provider]:
    return list(_PROVIDERS.values())


def provider(name: str) -> Provider:
    """The provider called `name` or one of its aliases."""
    for candidate in _PROVIDERS.values():
        if name == candidate.name or name in candidate.aliases:
            return candidate
    lowered = name.lower()
    for candidate in _PROVIDERS.values():
        if lowered == candidate.name.lower() or lowered in (alias.lower() for alias in candidate.aliases):
            return candidate
    known = [spelling for candidate in _PROVIDERS.values() for spelling in (candidate.name, *candidate.aliases)]
    raise ProbeError(f"Invalid probe type: {name}", did_you_mean(name, known))


def parse_attach_point(text: str, params: Sequence[str] = ()) -> ProbeSpec:
    """Parse one attach point (`tracepoint:syscalls:sys_enter_read`); `params`
    are the positional parameters `$1`, `$2`, ... may refer to."""
    parts = split_attach_point(text, params)
    if not parts[0]:
        raise ProbeError("Invalid attachpoint definition")
    return provider(parts[0]).parse(parts[1:], text)


def expand(spec: ProbeSpec) -> list[ProbeSpec]:
    """The concrete probes a spec stands for on this system."""
    return provider(spec.provider).expand(spec)


def context(spec: ProbeSpec) -> ProbeContext:
    return provider(spec.provider).context(spec)


def list_probes(pattern: str | None = None) -> Iterator[str]:
    """Probe names for `auger -l [PATTERN]`, one per probe, in bpftrace's
    format. A pattern without a provider (`*sleep*`) searches the kernel
    probe kinds for probes whose name after the provider matches it."""
    if not pattern:
        pattern = "*"
    provider_part, separator, rest = pattern.partition(":")
    if not separator:
        for name in _LISTED_BY_DEFAULT:
            for probe in _PROVIDERS[name].list("*"):
                if _matches_unqualified(pattern, probe):
                    yield probe
        return
    if has_wildcard(provider_part):
        chosen = [candidate for candidate in _PROVIDERS.values() if matches(provider_part, candidate.name)]
        if not chosen:
            raise ProbeError(f"No probe type matched for {provider_part}")
    else:
        chosen = [provider(provider_part)]
    for candidate in chosen:
        try:
            yield from candidate.list(rest or "*")
        except ProbeError:
            # A wildcard provider part tries every kind; kinds whose form the
            # rest does not fit are skipped, as bpftrace does.
            if not has_wildcard(provider_part):
                raise


def _matches_unqualified(pattern: str, probe: str) -> bool:
    """`sched_switch` and `*sched*` find `tracepoint:sched:sched_switch`."""
    rest = probe.split(":", 1)[1]
    return matches(pattern, rest) or matches(pattern, rest.rstrip(":").rsplit(":", 1)[-1])


for _built_in in (
    BeginProvider(), EndProvider(), KprobeProvider(), KretprobeProvider(), UprobeProvider(),
    UretprobeProvider(), UsdtProvider(), TracepointProvider(), ProfileProvider(), IntervalProvider(),
    SoftwareProvider(), HardwareProvider(), WatchpointProvider(), AsyncWatchpointProvider(),
    FentryProvider(), FexitProvider(), RawTracepointProvider(),
):
    register(_built_in)
