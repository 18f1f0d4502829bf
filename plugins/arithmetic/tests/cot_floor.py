#!/usr/bin/env python3
"""arith_model_cot_floor: the shipped arithmetic model's greedy CoT accuracy on the held-out
problems (bench/learns/eval.toml) must be at least FLOOR. The floor is set from the measured value
(bench/results/learns.json), so a regression in the prompts, the chat template, extraction or
sampling shows as a drop in a real score. Prints ids and scores only.

  cot_floor.py PARLEY REPO --floor F [--limit N]      exit 0 pass, 1 below the floor, 77 skipped
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("parley")
    ap.add_argument("repo")
    ap.add_argument("--floor", type=float, required=True)
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    model = os.path.join(a.repo, "models", "arith-base.gguf")
    if not os.path.exists(model):
        print(f"SKIP: {model} is missing")
        return 77
    plugins = json.loads(subprocess.run([a.parley, "plugins", "--json"], capture_output=True, text=True, check=True).stdout)
    names = json.dumps(plugins)
    for p in ("llama_cpp", "arithmetic"):
        if f'"{p}"' not in names:
            print(f"SKIP: the {p} plugin is not built")
            return 77
    with tempfile.TemporaryDirectory(prefix="arith-floor-") as out:
        cmd = [a.parley, "run", os.path.join(a.repo, "bench", "learns", "eval.toml"), f"graph.output_dir={out}",
               f"nodes.heldout.limit={a.limit}"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout[-4000:], r.stderr[-4000:])
            return 1
        res = json.load(open(os.path.join(out, "cot", "results.json")))["results"]["heldout"]
        acc = next(v for k, v in res.items() if k.startswith("final_success_rate,"))
        rows = [json.loads(l) for l in open(os.path.join(out, "cot", "samples_heldout.jsonl"))]
        wrong = [r["id"] for r in rows if not r["correct"]]
    print(f"CoT accuracy on {len(rows)} held-out problems: {acc:.3f} (floor {a.floor:.3f}); wrong: {' '.join(wrong[:30])}")
    return 0 if acc >= a.floor else 1


if __name__ == "__main__":
    sys.exit(main())
