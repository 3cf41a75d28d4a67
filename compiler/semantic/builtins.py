"""Builtin variables (`pid`, `comm`, `args`, `retval`, ...): their types, and
where the per-probe ones may be used.

Universal builtins work in every probe. The others exist only where the
probe's provider lists them in its `ProbeContext.builtins`; using one
elsewhere gives bpftrace's message for it.
"""

from __future__ import annotations

import re
from typing import Callable

from auger.compiler.types import (
    INT64,
    UINT32,
    UINT64,
    IntType,
    PointerType,
    SpecialType,
    StackType,
    StringType,
    Type,
    VOID,
)

from .args_type import ArgsType, complete_fields, complete_type
from .environment import ProbeEnvironment

COMM_LENGTH = 16  # the kernel's TASK_COMM_LEN

_UNIVERSAL: dict[str, Callable[[ProbeEnvironment], Type | None]] = {
    "pid": lambda env: UINT32,
    "tid": lambda env: UINT32,
    "uid": lambda env: UINT32,
    "gid": lambda env: UINT32,
    "nsecs": lambda env: UINT64,
    "elapsed": lambda env: UINT64,
    "cpu": lambda env: UINT32,
    "ncpus": lambda env: UINT64,
    "numaid": lambda env: UINT32,
    "comm": lambda env: StringType(COMM_LENGTH),
    "probe": lambda env: SpecialType("probe"),
    "rand": lambda env: UINT32,
    "cgroup": lambda env: UINT64,
    "jiffies": lambda env: UINT64,
    "usermode": lambda env: IntType(8, False),
    "username": lambda env: SpecialType("username"),
    "ctx": lambda env: PointerType(VOID),
    "curtask": lambda env: _curtask(env),
    "kstack": lambda env: StackType(False, _stack_mode(env)),
    "ustack": lambda env: StackType(True, _stack_mode(env)),
    "cpid": lambda env: UINT32,
}

_ARGUMENT = re.compile(r"(s?)arg(\d+)$")

# Why a per-probe builtin is missing, in bpftrace's words.
_NOT_HERE = {
    "retval": "The retval builtin can only be used with 'kretprobe' and 'uretprobe' and 'fentry' probes",
    "args": "The args builtin can only be used with tracepoint, rawtracepoint, fentry/fexit, and uprobe probes ({provider} used here)",
    "func": "The func builtin can not be used with '{provider}' probes",
    "arg": "The {name} builtin can only be used with 'kprobes', 'uprobes' and 'usdt' probes",
    "sarg": "The {name} builtin can only be used with 'kprobes' and 'uprobes' probes",
}

_USER_SPACE_PROVIDERS = ("uprobe", "uretprobe", "usdt")


def is_builtin(name: str) -> bool:
    return name in _UNIVERSAL or name in ("retval", "args", "func") or bool(_ARGUMENT.match(name))


def builtin_type(name: str, env: ProbeEnvironment) -> tuple[Type | None, str | None]:
    """The builtin's type here, or (None, the error message) when it cannot
    be used in this probe."""
    if name == "cpid" and not env.program.options.has_child:
        return None, "cpid cannot be used without child command"
    if name in _UNIVERSAL:
        return _UNIVERSAL[name](env), None
    if not env.allows(name):
        provider = next((spec.provider for spec, context in zip(env.specs, env.contexts)
                         if name not in context.builtins), "")
        argument = _ARGUMENT.match(name)
        key = (argument.group(1) + "arg") if argument else name
        return None, _NOT_HERE[key].format(provider=provider, name=name)
    if name == "args":
        return _args_type(env), None
    if name == "func":
        user = any(provider in _USER_SPACE_PROVIDERS for provider in env.providers)
        return SpecialType("usym", 16) if user else SpecialType("ksym"), None
    if name == "retval":
        return_type = env.contexts[0].extra.get("return_type")
        if not isinstance(return_type, Type):
            return UINT64, None
        return complete_type(return_type, env.program.type_source), None
    if all(provider == "usdt" for provider in env.providers):
        return INT64, None  # a USDT argument is a signed value of its note's size, sign-extended (as bpftrace)
    return UINT64, None  # argN, sargN: a register or stack slot


def _args_type(env: ProbeEnvironment) -> Type | None:
    context = env.contexts[0]
    if context.args is None:
        # A provider that has `args` but could not describe it (a wildcard
        # fentry, say): fields are unknown, any access is an error later.
        return ArgsType(env.specs[0].name, ())
    return ArgsType(env.specs[0].name, complete_fields(context.args, env.program.type_source))


def _curtask(env: ProbeEnvironment) -> Type:
    task = env.program.type_source.record("struct", "task_struct")
    return PointerType(task) if task is not None else UINT64


def _stack_mode(env: ProbeEnvironment) -> str:
    return str(env.program.config.get("stack_mode", "bpftrace"))
