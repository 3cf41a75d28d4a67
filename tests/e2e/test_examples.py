"""The saved scripts in examples/: each one compiles with `auger --dry-run`,
runs on a stock kernel (no kprobes, no fentry, no hardware counters) and
documents itself with a usage line and a real sample of its output.

Where bpftrace is installed, its own checker gets the scripts as well, so an
example never drifts into auger-only syntax by accident.
"""

import re
import subprocess
from pathlib import Path

import pytest

from auger.cli import main

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.bt"))
BPFTRACE_NEW = Path("/work/shared/tools/bpftrace-new")

# Probe kinds that need kernel features this project promises not to need
# in its examples (kprobes, fentry/fexit, hardware counters) or a specific
# program's build (usdt).
UNPORTABLE_PROBES = re.compile(
    r"^\s*(kprobe|kretprobe|k|kr|kfunc|kretfunc|fentry|fexit|f|fr|hardware|h|usdt|U|watchpoint|w):",
    re.MULTILINE,
)


def example_id(path: Path) -> str:
    return path.name


def header_comment(text: str) -> list[str]:
    """The `//` comment lines at the top of a script, after the shebang."""
    lines = text.split("\n")
    assert lines[0].startswith("#!"), "an example starts with a shebang line"
    header = []
    for line in lines[1:]:
        if not line.startswith("//"):
            break
        header.append(line[2:].strip())
    return header


def test_there_are_enough_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("path", EXAMPLES, ids=example_id)
def test_example_passes_dry_run(path, capsys):
    status = main(["--dry-run", str(path)])
    err = capsys.readouterr().err
    assert status == 0, err
    assert "ERROR" not in err


@pytest.mark.parametrize("path", EXAMPLES, ids=example_id)
def test_example_documents_itself(path):
    header = header_comment(path.read_text())
    assert header and header[0].startswith(path.name + ":"), "the header starts with `NAME.bt: what it shows`"
    assert any(line.startswith("USAGE: auger") for line in header), "the header has a USAGE line"
    sample_start = next(
        (index for index, line in enumerate(header) if line.startswith("Example output")), None
    )
    assert sample_start is not None, "the header has an `Example output` section"
    sample = [line for line in header[sample_start + 1 :] if line]
    assert len(sample) >= 3, "the sample output is more than a token line or two"
    assert sample[0].startswith("Attached "), "samples show the current format (`Attached N probes`)"


@pytest.mark.parametrize("path", EXAMPLES, ids=example_id)
def test_example_uses_only_stock_kernel_probes(path):
    code = "\n".join(line for line in path.read_text().split("\n") if not line.startswith("//"))
    assert not UNPORTABLE_PROBES.search(code)


@pytest.mark.root
@pytest.mark.skipif(not BPFTRACE_NEW.exists(), reason="bpftrace 0.27.1 (bpftrace-new) is not installed")
@pytest.mark.parametrize("path", EXAMPLES, ids=example_id)
def test_current_bpftrace_accepts_example(path):
    """bpftrace 0.27.1 checks the script without attaching (`--dry-run`).

    It runs in a chroot, so host paths in uprobes move under /host there, and
    `libc` would name the chroot's libc: both become host paths.
    """
    if not Path("/opt/btnew/sid/usr/bin/bpftrace").exists():
        pytest.skip("the bpftrace-new chroot is not set up")
    text = path.read_text()
    text = text.replace("uretprobe:/bin/", "uretprobe:/host/bin/").replace("uprobe:/bin/", "uprobe:/host/bin/")
    text = text.replace("uprobe:libc:", "uprobe:/host/lib/x86_64-linux-gnu/libc.so.6:")
    # The chroot's /tmp is its own; the script goes there.
    chroot_tmp = Path("/opt/btnew/sid/tmp")
    script = chroot_tmp / f"auger-example-{path.name}"
    script.write_text(text)
    try:
        result = subprocess.run(
            [str(BPFTRACE_NEW), "--dry-run", f"/tmp/{script.name}"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        script.unlink()
    assert result.returncode == 0, result.stderr
