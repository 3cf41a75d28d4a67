"""`missing_probes`: an attach point this system lacks is skipped with a
warning by default (bpftrace 0.17's behaviour, which its tools rely on),
an error with `missing_probes = error` (current bpftrace's default), and
dropped silently with `ignore`."""

import pytest

from auger.compiler.diagnostics import CompileError, SourceFile, render_all
from auger.compiler.parser import parse
from auger.compiler.semantic import analyse

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
PROGRAM = f"uprobe:{LIBC}:nosuchfn, uprobe:{LIBC}:malloc {{ @ = count(); }}\nuprobe:{LIBC}:nosuchfn2 {{ @x = count(); }}"


def _analyse(text):
    source = SourceFile("stdin", text)
    return analyse(parse(source), source), source


pytestmark = pytest.mark.skipif(
    not __import__("os").path.exists(LIBC), reason=f"{LIBC} is not on this machine"
)


def test_missing_probes_warn_by_default():
    analysis, source = _analyse(PROGRAM)
    assert [len(p.specs) for p in analysis.probes] == [1]
    assert render_all(analysis.warnings, source).splitlines()[0::3] == [
        f"stdin:1:1-48: WARNING: No matches for uprobe {LIBC}:nosuchfn. Skipping the probe.",
        f"stdin:2:1-49: WARNING: No matches for uprobe {LIBC}:nosuchfn2. Skipping the probe.",
        "stdin:2:1-49: WARNING: Probe has no valid attach points. It is being removed, which may change what the program does.",
    ]


def test_missing_probes_error():
    with pytest.raises(CompileError) as failure:
        _analyse("config = { missing_probes = error }\n" + PROGRAM)
    assert [d.message for d in failure.value.diagnostics] == [
        f"No matches for uprobe {LIBC}:nosuchfn.",
        f"No matches for uprobe {LIBC}:nosuchfn2.",
    ]


def test_missing_probes_ignore():
    analysis, _ = _analyse("config = { missing_probes = ignore }\n" + PROGRAM)
    assert [len(p.specs) for p in analysis.probes] == [1]
    assert analysis.warnings == ()
