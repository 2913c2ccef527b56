#!/usr/bin/python3
"""Checks a node's GET /metrics text with Prometheus' own Python client parser, then prints every
sample as one line `name{label="value",...} value` (labels sorted), for the C++ test to read.

Beyond what the parser checks, it fails (exit 1, the reason on stderr) when: a family's samples are
split (a family named twice), a family has no HELP or TYPE, a counter's samples do not end in
_total, a histogram's buckets are not cumulative or its +Inf bucket differs from its _count, or a
value is negative where it cannot be (counters, buckets, counts). Debian: python3-prometheus-client.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def fail(why):
    print("check_metrics: " + why, file=sys.stderr)
    sys.exit(1)


def main():
    text = sys.stdin.read()
    helps, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            if name in helps:
                fail("HELP of " + name + " twice (its samples are split)")
            helps[name] = True
        elif line.startswith("# TYPE "):
            parts = line.split(" ")
            if parts[2] in types:
                fail("TYPE of " + parts[2] + " twice (its samples are split)")
            types[parts[2]] = parts[3]
    if set(helps) != set(types):
        fail("families without HELP or TYPE: " + str(sorted(set(helps) ^ set(types))))
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's own complaint, whatever it raises
        fail("the Prometheus parser refused the text: " + repr(e))
    out = []
    for fam in families:
        buckets = {}
        counts = {}
        for s in fam.samples:
            labels = dict(s.labels)
            if fam.type == "counter":
                if not s.name.endswith("_total"):
                    fail("counter sample " + s.name + " does not end in _total")
                if s.value < 0:
                    fail("counter " + s.name + " is negative")
            if fam.type == "histogram":
                le = labels.pop("le", None)
                key = tuple(sorted(labels.items()))
                if s.name.endswith("_bucket"):
                    if s.value < 0:
                        fail("bucket of " + s.name + " is negative")
                    buckets.setdefault(key, []).append((float(le), s.value))
                elif s.name.endswith("_count"):
                    counts[key] = s.value
                labels = dict(s.labels)
            rendered = ",".join('%s="%s"' % (k, v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
                                for k, v in sorted(labels.items()))
            out.append("%s{%s} %r" % (s.name, rendered, float(s.value)))
        for key, bs in buckets.items():
            bounds = [b for b, _ in bs]
            if bounds != sorted(bounds) or bounds[-1] != float("inf"):
                fail(fam.name + str(key) + ": buckets out of order or without +Inf")
            values = [v for _, v in bs]
            if any(b > a for a, b in zip(values[1:], values)):
                fail(fam.name + str(key) + ": buckets are not cumulative")
            if counts.get(key) != values[-1]:
                fail(fam.name + str(key) + ": +Inf bucket differs from _count")
    print("\n".join(out))


main()
