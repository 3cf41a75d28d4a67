"""The output side: render map contents and event values as bpftrace does.

values   the value model the runtime fills in (kernel-independent)
percpu   combining per-CPU aggregation slots into values
buckets  hist/lhist bucket indexes, bounds and labels
ordering which map entries print, in which order, and print's div
text     the text emitter; json: the `-f json` emitter
See docs/output.md.
"""
