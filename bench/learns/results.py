#!/usr/bin/env python3
"""Writes bench/results/learns.json from the loop's or the eval's run folders.

  results.py eval COT_DIR LEARNS_JSON                 the shipped model's CoT accuracy -> cot_accuracy_heldout
  results.py loop RUN_DIR LEARNS_JSON --seconds S --command CMD
                                                      every figure of bench/learns/run.sh
"""
import argparse
import json
import os
import sys

DOMAIN = "heldout"
EVAL_COMMAND = "bench/learns/eval.sh"


def metric(node_dir, name):
    """A metric of the held-out domain with its interval, from a node's results.json."""
    res = json.load(open(os.path.join(node_dir, "results.json")))
    row = res["results"][DOMAIN]
    for key, value in row.items():
        base, _, flt = key.partition(",")
        if base == name:
            return {"value": value, "ci_lo": row.get(f"{name}_ci_lo,{flt}"), "ci_hi": row.get(f"{name}_ci_hi,{flt}"),
                    "stderr": row.get(f"{name}_stderr,{flt}"), "n": res.get("n-samples", {}).get(DOMAIN, {}).get("effective")}
    sys.exit(f"results.py: no metric {name} for {DOMAIN} in {node_dir}/results.json")


def comparison(path):
    doc = json.load(open(path))
    m = doc["comparisons"][0]["macro"]
    return {k: m.get(k) for k in ("a", "b", "diff", "ci_lo", "ci_hi", "a_only", "b_only", "mcnemar_p", "paired")}


def load(path):
    return json.load(open(path)) if os.path.exists(path) else {}


def save(path, doc):
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["eval", "loop"])
    ap.add_argument("dir")
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--command")
    a = ap.parse_args()
    doc = load(a.out)
    doc.setdefault("eval_command", EVAL_COMMAND)
    if a.mode == "eval":
        cot = metric(a.dir, "final_success_rate")
        doc["cot_accuracy_heldout"] = cot["value"]
        doc["eval"] = {"cot": cot, "command": EVAL_COMMAND}
        print(f"cot_accuracy_heldout = {cot['value']:.3f} [{cot['ci_lo']:.3f}, {cot['ci_hi']:.3f}] (n = {cot['n']})")
        save(a.out, doc)
        return
    r = a.dir
    doc["command"] = a.command
    doc["seconds"] = a.seconds
    doc["cot_accuracy_heldout"] = metric(f"{r}/cot_base", "final_success_rate")["value"]
    doc["coral_agreement_correctness_heldout"] = metric(f"{r}/coral_base", "agreement_correctness")["value"]
    doc["base"] = {"cot_accuracy": metric(f"{r}/cot_base", "final_success_rate"),
                   "coral_agreement_correctness": metric(f"{r}/coral_base", "agreement_correctness"),
                   "coral_agreement": metric(f"{r}/coral_base", "agreement")}
    pairs = sum(1 for _ in open(f"{r}/pairs/pairs.jsonl")) if os.path.exists(f"{r}/pairs/pairs.jsonl") else None
    kept = load(f"{r}/contrastive/report.json")
    doc["data"] = {"trees": kept.get("rows_in"), "contrastive_trees": kept.get("kept"), "pairs": pairs}
    doc["trained"] = {}
    for m in ("dpo", "sft"):
        summary = load(f"{r}/train_{m}/summary.json")
        doc["trained"][m] = {
            "training": summary.get("metrics"),
            "cot_accuracy_heldout": metric(f"{r}/cot_{m}", "final_success_rate"),
            "coral_agreement_correctness_heldout": metric(f"{r}/coral_{m}", "agreement_correctness"),
            "coral_agreement_heldout": metric(f"{r}/coral_{m}", "agreement"),
            "vs_base": {"cot_accuracy": comparison(f"{r}/compare-cot-{m}.json"),
                        "coral_agreement_correctness": comparison(f"{r}/compare-coral-{m}.json")},
        }
    save(a.out, doc)
    print(json.dumps({k: doc[k] for k in ("cot_accuracy_heldout", "coral_agreement_correctness_heldout")}))


if __name__ == "__main__":
    main()
