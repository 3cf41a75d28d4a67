"""The integer macros of the headers bpftrace tools `#include`, known without
the headers themselves.

Types come from kernel BTF, but BTF records no macros, and a machine with
BTF need not have kernel headers. These values are Linux ABI (address
families, socket types, clone flags, scheduling policies) or the task states
that `sched_switch`'s `prev_state` reports, all stable across kernels."""

from __future__ import annotations

_FAMILIES = (
    "UNSPEC UNIX INET AX25 IPX APPLETALK NETROM BRIDGE ATMPVC X25 INET6 ROSE DECnet "
    "NETBEUI SECURITY KEY NETLINK PACKET ASH ECONET ATMSVC RDS SNA IRDA PPPOX WANPIPE "
    "LLC IB MPLS CAN TIPC BLUETOOTH IUCV RXRPC ISDN PHONET IEEE802154 CAIF ALG NFC VSOCK "
    "KCM QIPCRTR SMC XDP MCTP MAX"
).split()

_SOCKET = {
    **{f"AF_{name}": number for number, name in enumerate(_FAMILIES)},
    **{f"PF_{name}": number for number, name in enumerate(_FAMILIES)},
    "AF_LOCAL": 1, "PF_LOCAL": 1, "AF_ROUTE": 16, "PF_ROUTE": 16, "AF_FILE": 1, "PF_FILE": 1,
    "SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_RAW": 3, "SOCK_RDM": 4, "SOCK_SEQPACKET": 5,
    "SOCK_DCCP": 6, "SOCK_PACKET": 10, "SOCK_NONBLOCK": 0o4000, "SOCK_CLOEXEC": 0o2000000,
}

_CLONE_FLAGS = (
    "VM FS FILES SIGHAND PIDFD PTRACE VFORK PARENT THREAD NEWNS SYSVSEM SETTLS PARENT_SETTID "
    "CHILD_CLEARTID DETACHED UNTRACED CHILD_SETTID NEWCGROUP NEWUTS NEWIPC NEWUSER NEWPID "
    "NEWNET IO"
).split()

_SCHED = {
    "TASK_RUNNING": 0x0000, "TASK_INTERRUPTIBLE": 0x0001, "TASK_UNINTERRUPTIBLE": 0x0002,
    "__TASK_STOPPED": 0x0004, "__TASK_TRACED": 0x0008, "EXIT_DEAD": 0x0010,
    "EXIT_ZOMBIE": 0x0020, "EXIT_TRACE": 0x0030, "TASK_PARKED": 0x0040, "TASK_DEAD": 0x0080,
    "TASK_WAKEKILL": 0x0100, "TASK_WAKING": 0x0200, "TASK_NOLOAD": 0x0400, "TASK_NEW": 0x0800,
    "TASK_KILLABLE": 0x0102, "TASK_STOPPED": 0x0104, "TASK_TRACED": 0x0008,
    "TASK_IDLE": 0x0402, "TASK_NORMAL": 0x0003, "TASK_REPORT": 0x007F,
    "SCHED_NORMAL": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_IDLE": 5,
    "SCHED_DEADLINE": 6,
    **{f"CLONE_{name}": 0x100 << shift for shift, name in enumerate(_CLONE_FLAGS)},
}

# Header as written in `#include <...>` -> the macros it provides.
HEADER_CONSTANTS: dict[str, dict[str, int]] = {
    "sys/socket.h": _SOCKET,
    "linux/socket.h": _SOCKET,
    "linux/net.h": _SOCKET,
    "net/sock.h": _SOCKET,
    "linux/sched.h": _SCHED,
}


def header_name(include_text: str) -> str:
    """`<linux/sched.h>` or `"linux/sched.h"` -> `linux/sched.h`."""
    return include_text.strip().strip('<>"').strip()
