"""The name the kernel shows for this process (`comm`: ps, top, and the
`comm` builtin in probes that fire in it, such as BEGIN and END)."""


def set_process_name(name: str) -> None:
    """At most 15 characters are kept; a failure leaves the name as it was."""
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name)
    except OSError:
        pass
