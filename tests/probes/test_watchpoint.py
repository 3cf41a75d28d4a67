"""Watchpoint attach points: what is refused before anything is attached,
and what the attacher is told (program type, the -p/-c process)."""

import ctypes

import pytest

from auger.probes import registry
from auger.probes.base import ProbeError
from auger.probes.registry import parse_attach_point
from auger.runtime.libbcc import PerfEventAttr


@pytest.mark.parametrize("attach_point", ["watchpoint:increment+arg0:4:w", "aw:main+arg1:8:rw"])
def test_the_function_argument_form_is_not_supported_yet(attach_point):
    with pytest.raises(ProbeError) as raised:
        parse_attach_point(attach_point)
    assert "on a function argument (FUNC+argN) is not supported yet" in str(raised.value)
    assert raised.value.hint == "watch an address: watchpoint:0xADDRESS:LENGTH:MODE"


@pytest.mark.parametrize("name", ["watchpoint", "asyncwatchpoint"])
def test_watchpoints_are_perf_event_programs_in_the_traced_process(name):
    provider = registry.provider(name)
    assert provider.program_type == "perf_event"
    assert provider.process_scoped


def test_the_attr_reaches_bp_len():
    # PERF_ATTR_SIZE_VER1: bp_addr is config1, bp_len config2.
    assert ctypes.sizeof(PerfEventAttr) == 72
    assert PerfEventAttr.config2.offset == 64
