"""auger: a bpftrace-style tracing language compiled to eBPF."""
__version__ = "0.1.0"
