"""USDT argument specs (probes/usdt_arguments.py) and the sites of USDT
probes: one attach point per site, each with its own argument locations."""

import pytest

from auger.probes.base import MissingProbe
from auger.probes.registry import context, expand, parse_attach_point
from auger.probes.usdt import UsdtProvider
from auger.probes.usdt_arguments import (ARGUMENT_LOCATIONS, CONSTANT, MEMORY, REGISTER, UNSUPPORTED, UsdtArgument,
                                         parse_argument, parse_arguments)

PYTHON = "/usr/bin/python3.11"


@pytest.mark.parametrize("spec, expected", [
    ("8@%rbp", UsdtArgument("8@%rbp", REGISTER, 8, False, "bp")),
    ("-4@%eax", UsdtArgument("-4@%eax", REGISTER, 4, True, "ax")),
    ("2@%si", UsdtArgument("2@%si", REGISTER, 2, False, "si")),
    ("-1@%dil", UsdtArgument("-1@%dil", REGISTER, 1, True, "di")),
    ("1@%al", UsdtArgument("1@%al", REGISTER, 1, False, "ax")),
    ("-8@%r12", UsdtArgument("-8@%r12", REGISTER, 8, True, "r12")),
    ("4@%r9d", UsdtArgument("4@%r9d", REGISTER, 4, False, "r9")),
    ("2@%r15w", UsdtArgument("2@%r15w", REGISTER, 2, False, "r15")),
    ("1@%r8b", UsdtArgument("1@%r8b", REGISTER, 1, False, "r8")),
    ("4@$5", UsdtArgument("4@$5", CONSTANT, 4, False, value=5)),
    ("-4@$-5", UsdtArgument("-4@$-5", CONSTANT, 4, True, value=-5)),
    ("8@$0x10", UsdtArgument("8@$0x10", CONSTANT, 8, False, value=16)),
    ("8@-8(%rbp)", UsdtArgument("8@-8(%rbp)", MEMORY, 8, False, "bp", value=-8)),
    ("-4@112(%rsp)", UsdtArgument("-4@112(%rsp)", MEMORY, 4, True, "sp", value=112)),
    ("8@(%rbx)", UsdtArgument("8@(%rbx)", MEMORY, 8, False, "bx")),
    ("4@16(%rax,%rdx,4)", UsdtArgument("4@16(%rax,%rdx,4)", MEMORY, 4, False, "ax", "dx", 4, 16)),
    ("8@(%rax,%rcx)", UsdtArgument("8@(%rax,%rcx)", MEMORY, 8, False, "ax", "cx", 1, 0)),
    ("8@(,%rcx,8)", UsdtArgument("8@(,%rcx,8)", MEMORY, 8, False, "", "cx", 8, 0)),
    ("%rdi", UsdtArgument("%rdi", REGISTER, 8, False, "di")),  # old notes: no size
])  # fmt: skip
def test_argument_forms(spec, expected):
    assert parse_argument(spec) == expected


@pytest.mark.parametrize("spec", [
    "8@sym(%rip)", "8@8(%rip)", "1@%ah", "3@%eax", "8@%xmm0", "-4@x1", "8@[sp, 8]", "8@()", "8@$sym",
])  # fmt: skip
def test_unreadable_forms(spec):
    assert parse_argument(spec) == UsdtArgument(spec, UNSUPPORTED)


def test_a_note_text_is_split_at_spaces():
    assert [argument.text for argument in parse_arguments(" 8@%rbx  -4@%ebp ")] == ["8@%rbx", "-4@%ebp"]
    assert parse_arguments("") == ()


def python_sites(text):
    specs = expand(parse_attach_point(text))
    return specs, [context(spec) for spec in specs]


def test_each_site_is_an_attach_point_with_its_arguments():
    specs, contexts = python_sites(f"usdt:{PYTHON}:function__entry")
    assert [spec.name for spec in specs] == [f"usdt:{PYTHON}:python:function__entry"]
    assert specs[0].address is not None
    assert contexts[0].builtins == {"arg0", "arg1", "arg2"}
    assert [argument.text for argument in contexts[0].extra[ARGUMENT_LOCATIONS]] == ["8@%rbp", "8@%r12", "-4@%eax"]


def test_wildcards_give_every_site():
    specs, contexts = python_sites(f"usdt:{PYTHON}:python:*")
    assert len(specs) == 8 and len({spec.address for spec in specs}) == 8
    gc_start = next(found for spec, found in zip(specs, contexts) if spec.function == "gc__start")
    assert gc_start.extra[ARGUMENT_LOCATIONS] == (UsdtArgument("-4@112(%rsp)", MEMORY, 4, True, "sp", value=112),)


def test_a_site_that_is_gone_is_a_missing_probe():
    spec = expand(parse_attach_point(f"usdt:{PYTHON}:line"))[0]
    gone = type(spec)(spec.provider, spec.target, spec.function, address=1, usdt_provider=spec.usdt_provider)
    with pytest.raises(MissingProbe):
        UsdtProvider().context(gone)
