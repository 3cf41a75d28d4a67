"""The probe spec every built-in provider returns, with its canonical name.

`ProbeSpec.name` is abstract in the contract; bpftrace builds the name of
every kind by one rule (AttachPoint::name): the provider, then each part
that is set, numbers in decimal. One subclass applies that rule for all kinds.
"""

from __future__ import annotations

from .base import ProbeSpec


class Spec(ProbeSpec):
    """A ProbeSpec named as bpftrace's `probe` builtin prints it:
    `provider[:target][:usdt_provider][:function[+offset]][:address]`
    `[:unit][:rate][:length][:mode]`."""

    @property
    def name(self) -> str:
        parts = [self.provider]
        if self.target:
            parts.append(self.target)
        if self.usdt_provider:
            parts.append(self.usdt_provider)
        if self.function:
            parts.append(f"{self.function}+{self.offset}" if self.offset else self.function)
        if self.address:
            parts.append(str(self.address))
        if self.unit:
            parts.append(self.unit)
        if self.rate:
            parts.append(str(self.rate))
        if self.length:
            parts.append(str(self.length))
        if self.mode:
            parts.append(self.mode)
        return ":".join(parts)
