"""Compares two Parley output folders as a resumed run must match an uninterrupted one: every
records/samples JSONL as a set of lines (they are written in completion order) without timing
fields, every metrics_*.json whole, each results.json's results/groups/configs/n-samples/statistics.
Manifests and timelines (wall-clock history) are not compared.

usage: same_outputs.py REFERENCE_DIR OTHER_DIR NODE [NODE ...]
"""
import json
import os
import sys

TIMING = {"total_s", "queue_s", "prefill_s", "seconds", "time_s"}
RESULT_KEYS = ("results", "groups", "configs", "n-samples", "statistics")


def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in TIMING}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


def lines(path):
    with open(path) as f:
        return sorted(json.dumps(strip(json.loads(line)), sort_keys=True) for line in f if line.strip())


def main():
    ref, other, nodes = sys.argv[1], sys.argv[2], sys.argv[3:]
    bad = []
    for node in nodes:
        a_dir, b_dir = os.path.join(ref, node), os.path.join(other, node)
        for name in sorted(os.listdir(a_dir)):
            a, b = os.path.join(a_dir, name), os.path.join(b_dir, name)
            if name in ("manifest.json", "timeline.jsonl"):
                continue
            if not os.path.exists(b):
                bad.append(f"{node}/{name}: missing")
            elif name.endswith(".jsonl"):
                la, lb = lines(a), lines(b)
                if la != lb:
                    bad.append(f"{node}/{name}: {len(la)} vs {len(lb)} lines, {len(set(la) ^ set(lb))} differ")
            elif name == "results.json":
                ra, rb = json.load(open(a)), json.load(open(b))
                for k in RESULT_KEYS:
                    if strip(ra.get(k)) != strip(rb.get(k)):
                        bad.append(f"{node}/{name}: '{k}' differs")
            elif json.load(open(a)) != json.load(open(b)):
                bad.append(f"{node}/{name}: differs")
    if bad:
        print("FAIL: outputs differ from the uninterrupted run's:\n  " + "\n  ".join(bad))
        sys.exit(1)


main()
