"""USDT probes run for real: Python 3.11's own probes (their semaphores
enable them), and a C program that defines a probe with a hand-written
stapsdt note (no sys/sdt.h needed), built with gcc here: arguments of every
size and sign in registers, in memory and as constants; a probe with two
sites whose arguments are in different places; a semaphore; `-c` and `-p`
attaching to that process only."""

import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from auger.compiler.diagnostics import SourceFile
from auger.compiler.pipeline import compile_source
from auger.probes.elf_symbols import usdt_notes
from auger.probes.usdt_arguments import CONSTANT, MEMORY, REGISTER, parse_arguments

from conftest import build_c, run_until_interrupted

pytestmark = pytest.mark.root

PYTHON = "/usr/bin/python3.11"

# The note as sys/sdt.h writes it: the probe address (a nop), the link-time
# address of .stapsdt.base (for prelink), the semaphore, then provider, name
# and argument text. Operands print inside the argument text as the
# assembler operands they are (`%al`, `-24(%rbp)`, `$5`).
_NOTE = r"""
#define NOTE(name, semaphore, args)                                           \
    "990: nop\n"                                                              \
    ".pushsection .note.stapsdt,\"\",\"note\"\n"                              \
    ".balign 4\n"                                                             \
    ".4byte 992f-991f, 994f-993f, 3\n"                                        \
    "991: .asciz \"stapsdt\"\n"                                               \
    "992: .balign 4\n"                                                        \
    "993: .8byte 990b\n"                                                      \
    ".8byte _.stapsdt.base\n"                                                 \
    ".8byte " semaphore "\n"                                                  \
    ".asciz \"auger_test\"\n"                                                 \
    ".asciz \"" name "\"\n"                                                   \
    ".asciz \"" args "\"\n"                                                   \
    "994: .balign 4\n"                                                        \
    ".popsection\n"                                                           \
    ".ifndef _.stapsdt.base\n"                                                \
    ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n"  \
    ".weak _.stapsdt.base\n"                                                  \
    ".hidden _.stapsdt.base\n"                                                \
    "_.stapsdt.base: .space 1\n"                                              \
    ".size _.stapsdt.base, 1\n"                                               \
    ".popsection\n"                                                           \
    ".endif\n"
"""

SOURCE = _NOTE + r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where sys/sdt.h puts semaphores; the kernel counts it up while attached. */
__attribute__((section(".probes"), used)) volatile unsigned short values_semaphore;

/* Registers, memory at the frame pointer, a constant. */
static void __attribute__((noinline)) fire_from_registers(void)
{
    signed char s8 = -5;
    unsigned char u8 = 250;
    short s16 = -300;
    unsigned short u16 = 65000;
    int s32 = -100000;
    unsigned int u32 = 4000000000u;
    long s64 = -5000000000L;
    volatile unsigned long m64 = 0x1122334455667788UL;
    volatile int m32 = -7;
    __asm__ __volatile__(NOTE("values", "values_semaphore",
        "-1@%[s8] 1@%[u8] -2@%[s16] 2@%[u16] -4@%[s32] 4@%[u32] -8@%[s64] 8@%[m64] -4@%[m32] 4@%[five]")
        :: [s8] "r"(s8), [u8] "r"(u8), [s16] "r"(s16), [u16] "r"(u16), [s32] "r"(s32), [u32] "r"(u32),
           [s64] "r"(s64), [m64] "m"(m64), [m32] "m"(m32), [five] "n"(5));
}

/* The same probe again: every argument a constant. */
static void __attribute__((noinline)) fire_from_constants(void)
{
    __asm__ __volatile__(NOTE("values", "values_semaphore",
        "-1@%[s8] 1@%[u8] -2@%[s16] 2@%[u16] -4@%[s32] 4@%[u32] -8@%[s64] 8@%[m64] -4@%[m32] 4@%[five]")
        :: [s8] "n"(-5), [u8] "n"(250), [s16] "n"(-300), [u16] "n"(65000), [s32] "n"(-100000),
           [u32] "n"(4000000000u), [s64] "n"(-5000000000L), [m64] "n"(0x1122334455667788UL), [m32] "n"(-7),
           [five] "n"(5));
}

/* A probe without a semaphore whose first argument auger cannot read. */
static void __attribute__((noinline)) fire_unreadable(void)
{
    __asm__ __volatile__(NOTE("unreadable", "0", "8@values_semaphore(%%rip) 4@$7") ::);
}

int main(int argc, char **argv)
{
    /* usdt_workload COUNT [always] [wait]: fire COUNT times (0: forever,
       1 ms apart), also when not traced (always), after a line on stdin (wait). */
    int count = argc > 1 ? atoi(argv[1]) : 1;
    int always = 0, wait = 0;
    for (int i = 2; i < argc; i++) {
        always |= strcmp(argv[i], "always") == 0;
        wait |= strcmp(argv[i], "wait") == 0;
    }
    if (wait) {
        char line[16];
        if (!fgets(line, sizeof line, stdin))
            return 1;
    }
    for (int i = 0; count == 0 || i < count; i++) {
        if (always || values_semaphore) {
            fire_from_registers();
            fire_from_constants();
        }
        fire_unreadable();
        if (count == 0)
            usleep(1000);
    }
    return 0;
}
"""

# A USDT argN is an int64, sign-extended from a signed argument (as bpftrace).
VALUES_PROGRAM = (
    'usdt:{binary}:auger_test:values {{ printf("%d %d %d %d %d %d %d %x %d %d\\n", '
    "arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8, arg9); }}"
)
VALUES_LINE = "-5 250 -300 65000 -100000 4000000000 -5000000000 1122334455667788 -7 5\n"


@pytest.fixture(scope="session")
def usdt_workload(tmp_path_factory) -> str:
    # -O0 keeps locals in the frame: memory arguments at -N(%rbp).
    return build_c(tmp_path_factory.mktemp("usdt"), "usdt_workload", SOURCE, "-O0")


@pytest.fixture(scope="session")
def usdt_library(usdt_workload) -> str:
    """The workload's probes in a shared library, which a test can load."""
    library = Path(usdt_workload).with_name("libusdt_workload.so")
    source = Path(usdt_workload).with_name("usdt_workload.c")
    subprocess.run(["gcc", "-O0", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return str(library)


@pytest.fixture
def python_script():
    """A short script path (str() reads 64 bytes by default) that calls f once."""
    if not os.path.exists(PYTHON):
        pytest.skip(f"{PYTHON} is needed (its USDT probes)")
    directory = tempfile.mkdtemp(prefix="auger-usdt-")
    script = Path(directory) / "f.py"
    script.write_text("def f():\n    pass\n\n\nf()\n")
    yield str(script)
    shutil.rmtree(directory)


def test_the_workload_notes_have_every_kind_of_location(usdt_workload):
    sites = [note for note in usdt_notes(usdt_workload) if note.name == "values"]
    assert len(sites) == 2 and all(note.semaphore for note in sites)
    first, second = (parse_arguments(note.arguments) for note in sites)
    assert [argument.kind for argument in first] == [REGISTER] * 7 + [MEMORY, MEMORY, CONSTANT]
    assert all(argument.register == "bp" and argument.value < 0 for argument in first[7:9])
    assert [argument.kind for argument in second] == [CONSTANT] * 10


def test_arguments_of_every_size_sign_and_location(run_auger, usdt_workload):
    # Two sites with their arguments in different places: two programs.
    result = run_auger("-c", f"{usdt_workload} 3", "-e", VALUES_PROGRAM.format(binary=usdt_workload))
    assert result.returncode == 0, result.stderr
    assert result.stdout == VALUES_LINE * 6 + "\n\n"
    assert result.stderr == "Attached 2 probes\n"


def test_probe_names_every_site_as_its_probe(run_auger, usdt_workload):
    program = f"usdt:{usdt_workload}:* {{ @[probe] = count(); }}"
    result = run_auger("-c", f"{usdt_workload} 4", "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (f"\n\n@[usdt:{usdt_workload}:auger_test:unreadable]: 4\n"
                             f"@[usdt:{usdt_workload}:auger_test:values]: 8\n")
    assert result.stderr == "Attached 3 probes\n"


def test_a_probe_without_a_semaphore(run_auger, usdt_workload):
    program = f"usdt:{usdt_workload}:unreadable {{ @ = count(); }}"
    result = run_auger("-c", f"{usdt_workload} 5", "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\n\n@: 5\n"


def test_an_unreadable_argument_is_a_compile_error_only_where_used(run_auger, usdt_workload):
    readable = run_auger("-c", f"{usdt_workload} 2", "-e", f"usdt:{usdt_workload}:unreadable {{ @ = sum(arg1); }}")
    assert readable.returncode == 0, readable.stderr
    assert readable.stdout == "\n\n@: 14\n"
    unreadable = run_auger("--dry-run", "-e", f"usdt:{usdt_workload}:unreadable {{ @ = sum(arg0); }}")
    assert unreadable.returncode == 1
    assert (f"ERROR: not supported yet by the code generator: arg0 of usdt:{usdt_workload}:auger_test:unreadable, "
            f"at '8@values_semaphore(%rip)'") in unreadable.stderr


def test_c_attaches_to_the_child_only(run_auger, usdt_workload):
    # Another process fires the probe all along, semaphore or not; only the
    # -c child's firings are seen.
    other = subprocess.Popen([usdt_workload, "0", "always"])
    try:
        result = run_auger("-c", f"{usdt_workload} 7", "-e", f"usdt:{usdt_workload}:values {{ @ = count(); }}")
    finally:
        other.kill()
        other.wait()
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\n\n@: 14\n"


def test_p_attaches_to_that_process_and_sets_its_semaphore(usdt_workload):
    traced = subprocess.Popen([usdt_workload, "6", "wait"], stdin=subprocess.PIPE, text=True)
    other = subprocess.Popen([usdt_workload, "0", "always"])
    program = f"usdt:{usdt_workload}:values {{ @ = count(); }}"
    auger = subprocess.Popen([sys.executable, "-m", "auger", "-p", str(traced.pid), "-e", program],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert auger.stderr.readline() == "Attached 2 probes\n"
        traced.stdin.write("go\n")
        traced.stdin.close()
        traced.wait(timeout=30)
        output, errors = auger.communicate(timeout=30)  # ends with the process
    finally:
        for process in (other, traced, auger):
            process.kill()
            process.wait()
    assert auger.returncode == 0, errors
    assert output == "\n\n@: 12\n"


def test_python_function_entry_arguments(run_auger, python_script):
    # Python 3.11 fires function__entry only for frames it resumes (bpftrace
    # 0.17 prints these same lines): at start-up, in frozen modules.
    program = 'usdt:/usr/bin/python3.11:function__entry { printf("%s %s %d\\n", str(arg0), str(arg1), arg2); }'
    result = run_auger("-c", f"{PYTHON} {python_script}", "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("<frozen getpath> <genexpr> 210\n" * 2 + "<frozen _collections_abc> <lambda> 62\n"
                             "<frozen _collections_abc> _coro 64\n<frozen _collections_abc> _ag 70\n\n\n")


def test_python_function_return_arguments(run_auger, python_script):
    program = (f'usdt:/usr/bin/python3.11:function__return /str(arg0) == "{python_script}"/ '
               '{ printf("%s %s %d\\n", str(arg0), str(arg1), arg2); }')
    result = run_auger("-c", f"{PYTHON} {python_script}", "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{python_script} f 2\n{python_script} <module> 5\n\n\n"


def test_python_probes_by_wildcard(run_auger, python_script):
    program = (f'usdt:/usr/bin/python3.11:python:function__* /str(arg0) == "{python_script}"/ '
               '{ @[probe, str(arg1), arg2] = count(); }')
    result = run_auger("-c", f"{PYTHON} {python_script}", "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "Attached 2 probes\n"
    assert result.stdout == ("\n\n@[usdt:/usr/bin/python3.11:python:function__return, <module>, 5]: 1\n"
                             "@[usdt:/usr/bin/python3.11:python:function__return, f, 2]: 1\n")


def test_without_c_or_p_every_process_is_traced(usdt_workload):
    # Started after attaching: the kernel counts up its semaphore as it maps the binary.
    program = f"usdt:{usdt_workload}:values {{ @ = count(); }}"

    def run_twice() -> None:
        for count in (2, 3):
            subprocess.run([usdt_workload, str(count)], check=True, timeout=30)

    status, output, errors = run_until_interrupted(program, "Attached 2 probes\n", run_twice)
    assert status == 0, errors
    assert output == "\n\n@: 10\n"


def test_auger_does_not_trace_itself(usdt_workload, usdt_library):
    # As auger on a Python with USDT probes maps the interpreter it traces:
    # its own events would print with code that fires more.
    ctypes.CDLL(usdt_library)
    mapped = compile_source(SourceFile("stdin", f"usdt:{usdt_library}:values {{ @ = count(); }}")).compiled
    assert "outside_auger" in mapped.ir_text and f", {os.getpid()}\n" in mapped.ir_text
    elsewhere = compile_source(SourceFile("stdin", f"usdt:{usdt_workload}:values {{ @ = count(); }}")).compiled
    assert "outside_auger" not in elsewhere.ir_text
