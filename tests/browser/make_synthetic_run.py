#!/usr/bin/env python3
"""A synthetic Coral run for the report's scale test: N conversations in Coral's record format
(records_<domain>.jsonl), with results.json, metrics_<domain>.json and a timeline.jsonl, written
as `core/coral_eval` would lay them out. Text is generated, never taken from a data set.

usage: make_synthetic_run.py OUT_DIR [--conversations N] [--seed S]
"""
import argparse
import json
import os
import random

DOMAINS = ["mmlu_pro", "math", "explore_tom", "hitom", "gpqa"]
EXT, MATCH = "SyntheticExtractor", "SyntheticMatcher"
WORDS = ("the agents discuss whether the answer follows from the premises and check each step of the "
         "argument again before they settle on a final choice").split()


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def turn(rng, role, answer, gold, k):
    score = 1.0 if answer == gold else 0.0
    return {"role": role, "content": sentence(rng, 12) + f" Final answer: {answer}",
            "info": {"status_ok": True, "usage": {"completion_tokens": 40 + k},
                     "extracted_answer": answer,
                     "annotation": {EXT: {"score": 1.0, "info": {"extracted_answer": answer, "status_ok": True}},
                                    MATCH: {"score": score, "info": {"metrics": {"em": score}, "status_ok": True}}}}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--conversations", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    node = os.path.join(a.out, "coral")
    os.makedirs(node, exist_ok=True)
    per = a.conversations // len(DOMAINS)
    results, metrics_all = {}, {}
    for d in DOMAINS:
        sums = {}
        with open(os.path.join(node, f"records_{d}.jsonl"), "w") as f:
            for i in range(per):
                gold = rng.choice("ABCD")
                n_turns = rng.randint(2, 6)
                answers = [rng.choice("ABCD") for _ in range(n_turns)]
                if rng.random() < 0.6:
                    answers[-1] = answers[-2]  # the last two agree
                conv = [{"role": "student", "content": f"Synthetic question {d}-{i}: pick A, B, C or D.",
                         "info": {"status_ok": True}}]
                for k, ans in enumerate(answers):
                    t = turn(rng, "teacher" if k % 2 == 0 else "student", ans, gold, k)
                    if k == 1 and i % 10 == 0:  # some tree-sampled turns
                        t["info"]["siblings"] = [turn(rng, t["role"], rng.choice("ABCD"), gold, k) for _ in range(2)]
                    conv.append(t)
                agreed = answers[-1] == answers[-2]
                correct = agreed and answers[-1] == gold
                m = {"conv_err": False, "total_turns": len(conv), "conv_len": sum(40 + k for k in range(n_turns)),
                     f"{EXT}-agreement": agreed, f"{EXT}-agreement_correctness": correct,
                     f"{EXT}-persuade_rate": rng.random() * 0.3, f"{EXT}-assert_rate": rng.random() * 0.5,
                     f"{MATCH}-final_success_rate": float(gold in answers)}
                split = [rng.random() for _ in range(3)]
                for kind in ("persuade", "assert"):
                    for part, share in zip(("correct", "incorrect", "unsure"), split):
                        m[f"{EXT}-{part}_{kind}_rate"] = share / sum(split)
                for k, v in m.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                rec = {"conv_result": conv, "metadata": {}, "metrics": m,
                       "parley": {"id": f"{d}-{i}", "trial": 0, "domain": d, "gold": gold, "profile": "coral", "max_turns": 6}}
                f.write(json.dumps(rec) + "\n")
        means = {k: v / per for k, v in sums.items()}
        metrics_all[d] = means
        with open(os.path.join(node, f"metrics_{d}.json"), "w") as f:
            json.dump(means, f)
        r = {"alias": d, "conversations": per}
        for name, k in [("agreement_correctness", f"{EXT}-agreement_correctness"), ("agreement", f"{EXT}-agreement"),
                        ("persuade_rate", f"{EXT}-persuade_rate"), ("assert_rate", f"{EXT}-assert_rate"),
                        ("final_success_rate", f"{MATCH}-final_success_rate"), ("total_turns", "total_turns")]:
            r[name + ",none"] = means[k]
            r[name + "_stderr,none"] = 0.0
            r[name + "_ci_lo,none"] = means[k] * 0.9  # shapes only: the report shows what results.json says
            r[name + "_ci_hi,none"] = means[k] * 1.1
        results[d] = r
    macro = {"alias": "macro average over domains", "domains": DOMAINS}
    for k in ["agreement_correctness", "agreement", "persuade_rate", "assert_rate", "final_success_rate", "total_turns"]:
        macro[k + ",none"] = sum(results[d][k + ",none"] for d in DOMAINS) / len(DOMAINS)
    doc = {"results": results, "groups": {"macro_avg": macro},
           "configs": {d: {"use": f"{d}/domain"} for d in DOMAINS},
           "config": {"evaluation": "core/coral_eval", "profile": "coral", "node": "coral"},
           "total_evaluation_time_seconds": 3600.0}
    with open(os.path.join(node, "results.json"), "w") as f:
        json.dump(doc, f)
    with open(os.path.join(node, "timeline.jsonl"), "w") as f:
        done = tokens = 0
        for t in range(0, 3601, 10):
            f.write(json.dumps({"t": t, "done": done, "in_flight": 64, "tokens": tokens}) + "\n")
            done = min(per * len(DOMAINS), done + per * len(DOMAINS) // 360)
            tokens += int(20000 + 5000 * rng.random())


if __name__ == "__main__":
    main()
