"""Probe providers by name: the one place the compiler, the session and the
CLI (`-l`) go through, so that none of them knows a probe kind by name.

Providers register here (the built-in kinds below; users may add their own
with `register`). Names and aliases match exactly first, then ignoring case
(`Tracepoint:`, `begin`), which keeps `U` (usdt) apart from `u` (uprobe)."""

from __future__ import annotations

import importlib
from typing import Iterator, Sequence

from auger.compiler.diagnostics import did_you_mean

from .attach_point import has_wildcard, matches, split_attach_point
from .base import ProbeContext, ProbeError, ProbeSpec, Provider

class _BuiltIn:
    """A built-in provider whose module is not imported yet: its spellings,
    and where it lives. A program's probes name few kinds; importing only
    those keeps the others' dependencies (ELF readers, subprocess, ...) out
    of a one-liner's start-up. tests/probes/test_registry.py checks that the
    spellings here are the provider classes' own."""

    def __init__(self, name: str, aliases: tuple[str, ...], module: str, class_name: str):
        self.name, self.aliases = name, aliases
        self.module, self.class_name = module, class_name

    def load(self) -> Provider:
        return getattr(importlib.import_module(f"{__package__}.{self.module}"), self.class_name)()


_BUILT_INS = (
    _BuiltIn("BEGIN", ("begin",), "special", "BeginProvider"),
    _BuiltIn("END", ("end",), "special", "EndProvider"),
    _BuiltIn("kprobe", ("k",), "kprobe", "KprobeProvider"),
    _BuiltIn("kretprobe", ("kr",), "kprobe", "KretprobeProvider"),
    _BuiltIn("uprobe", ("u",), "uprobe", "UprobeProvider"),
    _BuiltIn("uretprobe", ("ur",), "uprobe", "UretprobeProvider"),
    _BuiltIn("usdt", ("U",), "usdt", "UsdtProvider"),
    _BuiltIn("tracepoint", ("t",), "tracepoint", "TracepointProvider"),
    _BuiltIn("profile", ("p",), "timer", "ProfileProvider"),
    _BuiltIn("interval", ("i",), "timer", "IntervalProvider"),
    _BuiltIn("software", ("s",), "perf_events", "SoftwareProvider"),
    _BuiltIn("hardware", ("h",), "perf_events", "HardwareProvider"),
    _BuiltIn("watchpoint", ("w",), "watchpoint", "WatchpointProvider"),
    _BuiltIn("asyncwatchpoint", ("aw",), "watchpoint", "AsyncWatchpointProvider"),
    _BuiltIn("fentry", ("f", "kfunc"), "fentry", "FentryProvider"),
    _BuiltIn("fexit", ("fr", "kretfunc"), "fentry", "FexitProvider"),
    _BuiltIn("rawtracepoint", ("rt",), "rawtracepoint", "RawTracepointProvider"),
)

# By name, in registration order; a built-in stays a `_BuiltIn` until used.
_PROVIDERS: dict[str, Provider | _BuiltIn] = {built_in.name: built_in for built_in in _BUILT_INS}

# What `auger -l` searches when the pattern names no provider, as bpftrace's
# kernel list: return probes and user-space kinds are left out.
_LISTED_BY_DEFAULT = ("kprobe", "tracepoint", "software", "hardware", "fentry", "rawtracepoint")


def register(new: Provider) -> None:
    """Make a provider available under its name and aliases."""
    _PROVIDERS[new.name] = new


def providers() -> list[Provider]:
    return [_loaded(candidate) for candidate in list(_PROVIDERS.values())]


def _loaded(candidate: Provider | _BuiltIn) -> Provider:
    if isinstance(candidate, _BuiltIn):
        candidate = _PROVIDERS[candidate.name] = candidate.load()
    return candidate


def provider(name: str) -> Provider:
    """The provider called `name` or one of its aliases."""
    for candidate in _PROVIDERS.values():
        if name == candidate.name or name in candidate.aliases:
            return _loaded(candidate)
    lowered = name.lower()
    for candidate in _PROVIDERS.values():
        if lowered == candidate.name.lower() or lowered in (alias.lower() for alias in candidate.aliases):
            return _loaded(candidate)
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
            for probe in _loaded(_PROVIDERS[name]).list("*"):
                if _matches_unqualified(pattern, probe):
                    yield probe
        return
    if has_wildcard(provider_part):
        chosen = [
            _loaded(candidate) for candidate in list(_PROVIDERS.values()) if matches(provider_part, candidate.name)
        ]
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
