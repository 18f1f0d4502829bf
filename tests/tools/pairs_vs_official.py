#!/usr/bin/env python3
"""Compares `core/pairs` (profile = "coral") with the official Coral data-creation code on the same
records: preference-pair pools and SFT rows in all three SFT modes, with and without
`first_n_turns` and the penalties. Not a test of the suite (the official code cannot be obtained
at test time); run it by hand:

    python3 tests/tools/pairs_vs_official.py --official GIT_DIR --parley build/bin/parley \\
        --plugin-path build/plugins --shared ../shared --work /tmp/pairs-cmp

GIT_DIR is a clone of facebookresearch/collaborative-reasoner (read with `git show`; nothing is
copied into this repository). The official `correctness_filtering()` runs unmodified
(finetuning/data_creation/ts_correctness_filtering.py and filtering_utils.py, utils/chat_utils.py,
utils/file_utils.py); only the modules it imports but does not use here are stubbed (fire,
submitit, tqdm, aiohttp, utils.http_utils), and its Hugging Face tokenizer is replaced by a ChatML
renderer identical to Parley's `chat_template = "chatml"`, so `src` strings compare byte for byte.

Records: a tree-sampling run of the scripted test double on the MMLU-Pro sample, then perturbed
with a fixed seed (random gold/agreement annotations, completion tokens with many ties, failed
requests, tree lengths, success metrics, unique texts) so every rule has something to decide.
Both sides read the same records file. Rows compare as multisets (both sides shuffle with
their own generators); per-question pair cuts are random on both sides, so pair pools compare
uncut and only the cut counts compare under `pairs_per_question`.
"""
import argparse
import collections
import contextlib
import io
import json
import os
import random
import subprocess
import sys
import types
from pathlib import Path

OFFICIAL_FILES = ["finetuning/data_creation/ts_correctness_filtering.py", "finetuning/data_creation/filtering_utils.py",
                  "utils/chat_utils.py", "utils/file_utils.py"]


def chatml(messages):  # Parley's chat_template = "chatml"
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


def load_official(git_dir, work):
    src = work / "official"
    for f in OFFICIAL_FILES:
        text = subprocess.run(["git", "-C", git_dir, "show", f"HEAD:{f}"], check=True, capture_output=True, text=True).stdout
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        (src / f).write_text(text)

    def stub(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        m.__getattr__ = lambda attr: type(attr, (), {})
        sys.modules[name] = m

    class Tokenizer:
        def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True, add_special_tokens=False):
            assert not tokenize and add_generation_prompt
            return chatml(messages)

    auto = type("AutoTokenizer", (), {"from_pretrained": staticmethod(lambda name: Tokenizer())})
    stub("transformers", AutoTokenizer=auto)
    stub("tqdm", tqdm=lambda it, **kw: it)
    for name in ["fire", "submitit", "submitit.core", "submitit.core.core", "aiohttp", "utils.http_utils",
                 "finetuning.slurm_utils"]:
        stub(name)
    sys.path.insert(0, str(src))
    import finetuning.data_creation.ts_correctness_filtering as official  # noqa: E402
    return official


def make_records(args, work):
    """The scripted double's trees, perturbed (seeded) so that every rule has cases to decide."""
    graph = work / "g.toml"
    graph.write_text(tree_graph(args.shared))
    out = work / "run"
    run_parley(args, graph, out, {})
    path = out / "trees/records_mmlu_pro.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    records.sort(key=lambda r: (r["parley"]["id"], r["parley"]["trial"]))  # one order for both sides
    rng = random.Random(20261202)
    for r in records:
        conv = r["conv_result"]
        del conv[rng.randint(2, len(conv)):]  # trees of 1..max_turns turns
        for t, turn in enumerate(conv[1:], start=1):
            for k, c in enumerate([turn] + turn["info"].get("siblings", [])):
                perturb(c, f"{r['parley']['id']}/{r['parley']['trial']}/{t}/{k}", rng)
        key = next(k for k in r["metrics"] if k.endswith("agreement_correctness"))
        r["metrics"][key] = rng.random() < 0.4
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    rank = work / "sampling/1_outputs_step_0_rank_0.jsonl"
    rank.parent.mkdir(parents=True, exist_ok=True)
    rank.write_text(path.read_text())
    return graph, out, records


def perturb(c, tag, rng):
    info = c["info"]
    ext = next(v for k, v in info["annotation"].items() if k.endswith("ExtractionPromptingEvaluator"))
    match = next(v for k, v in info["annotation"].items() if k.endswith("MatchEvaluator"))
    gold = rng.random() < 0.35
    match["score"] = gold
    match["info"]["metrics"]["em"] = gold
    ext["info"]["agreement"] = rng.random() < 0.3
    info["stop_conv"] = rng.random() < 0.5  # ignored by coral: the annotation decides
    c["content"] = f"{c['content']} [{tag}]"
    if rng.random() < 0.08:  # a failed request: no usage, the error text is the content
        info["status_ok"] = False
        info.pop("usage", None)
        c["content"] = info["error"] = f"Error: HTTP 500 [{tag}]"
    else:
        info["usage"]["completion_tokens"] = rng.randint(1, 6)


def order_sensitive_turns(records, official):
    """Turns whose 2 best pairs under the length penalty change when the length term is computed
    as p*(len-min)/(1+max-min) (Parley before profiles) instead of p*((len-min)/(1+max-min))."""
    fu = official.get_preference_pairs_from_turn.__globals__
    n = 0
    for r in records:
        for turn in r["conv_result"][1:]:
            cands = [turn] + turn["info"].get("siblings", [])
            c = [float(fu["get_turn_correctness"](x)) for x in cands]
            t = [fu["get_turn_length"](x) for x in cands]
            lo, hi = min(t), max(t)
            top = []
            for s in ([x - 0.1 * ((y - lo) / (1 + hi - lo)) for x, y in zip(c, t)],
                      [x - (0.1 * (y - lo)) / (1 + hi - lo) for x, y in zip(c, t)]):
                pairs = [(i, j, s[i] - s[j]) if s[i] >= s[j] else (j, i, s[j] - s[i])
                         for i in range(len(s)) for j in range(i + 1, len(s))]
                top.append([p[:2] for p in sorted(pairs, key=lambda p: p[2], reverse=True) if p[2] > 0.5][:2])
            n += top[0] != top[1]
    return n


def tree_graph(shared):
    return f"""[nodes.mmlu_pro]
use = "mmlu_pro/domain"
data = "{shared}/data/mmlu_pro/test_sample_60.jsonl"

[nodes.model]
use = "scripted/backend"
default_reply = "I think so. The correct answer is ({{letter}})."

[nodes.trees]
use = "core/coral_eval"
inputs = {{ domains = ["mmlu_pro"], teacher = "model" }}
extraction = "rule"
max_turns = 5
trials = 4
beam = 4

[nodes.pairs]
use = "core/pairs"
inputs = {{ records = "trees" }}
chat_template = "chatml"
"""


def run_parley(args, graph, out, keys):
    cmd = [args.parley, "--plugin-path", args.plugin_path, "run", str(graph), f"graph.output_dir={out}"]
    cmd += [f"nodes.pairs.{k}={v}" for k, v in {"profile": f'"{args.profile}"', **keys}.items()]
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def parley_rows(args, graph, out, keys, name):
    run_parley(args, graph, out, keys)  # the trees resume: every conversation is already there
    rows = [json.loads(line) for line in (out / f"pairs/{name}.jsonl").read_text().splitlines() if line.strip()]
    for r in rows:
        r.pop("parley")
    return rows


def official_rows(official, work, **kw):
    save = work / "official_out"
    random.seed(0)
    with contextlib.redirect_stdout(io.StringIO()):  # its progress prints
        official.correctness_filtering([str(work / "sampling")], str(save), **kw)
    return [json.loads(line) for line in (save / "data/train.jsonl").read_text().splitlines() if line.strip()]


def compare(label, ours, theirs):
    a = collections.Counter(json.dumps(r, sort_keys=True) for r in ours)
    b = collections.Counter(json.dumps(r, sort_keys=True) for r in theirs)
    same = sum((a & b).values())
    ok = a == b
    print(f"{'OK  ' if ok else 'DIFF'} {label}: parley {len(ours)}, official {len(theirs)}, identical {same}")
    return ok, len(theirs), same


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True)
    ap.add_argument("--parley", required=True)
    ap.add_argument("--plugin-path", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--profile", default="coral", help="Parley's profile (\"fixed\" shows what the comparison catches)")
    args = ap.parse_args()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    official = load_official(args.official, work)
    graph, out, records = make_records(args, work)
    with contextlib.redirect_stdout(io.StringIO()):  # get_turn_length's prints
        sensitive = order_sensitive_turns(records, official)
    print(f"{len(records)} records, {len({r['metadata']['init_prompt'] for r in records})} questions; "
          f"{sensitive} turns where the length term's order of operations decides")

    results = []
    big = 1_000_000
    for per_turn in (1, 2):
        for penalty, flags in [("none", {}), ("agreement", {"discourage_agreement": True}),
                               ("length", {"discourage_length": True}),
                               ("both", {"discourage_agreement": True, "discourage_length": True})]:
            for first_n in (0, 3):
                keys = {"pairs_per_turn": per_turn, "pairs_per_question": 0, "first_n_turns": first_n,
                        "agreement_penalty": 0.1 if "discourage_agreement" in flags else 0.0,
                        "length_penalty": 0.1 if "discourage_length" in flags else 0.0}
                ours = parley_rows(args, graph, out, keys, "pairs")
                theirs = official_rows(official, work, generate_preference_pairs=True, max_pairs_per_turn=per_turn,
                                       max_instance_per_example=big, first_n_turns_only=first_n or big, **flags)
                results.append(compare(f"pairs per_turn={per_turn} penalty={penalty} first_n={first_n or 'all'}",
                                       ours, theirs))
    # Coral's default cut (10 per question): random on both sides, so counts per question only.
    ours = parley_rows(args, graph, out, {"pairs_per_question": 10}, "pairs")
    theirs = official_rows(official, work, generate_preference_pairs=True, max_instance_per_example=10)
    results.append(compare("pairs per_question=10 (count only)", [{}] * len(ours), [{}] * len(theirs)))

    for mode, flags in [("all", {}), ("success", {"success_conv_only": True}), ("correct_turns", {"filter_by_turns": True})]:
        for first_n in (0, 3):
            for cut in (10, 2):
                for add_prev in ((-1, 1) if mode == "correct_turns" else (-1,)):
                    keys = {"sft_mode": mode, "sft_per_question": cut, "first_n_turns": first_n, "add_prev_turns": add_prev}
                    ours = parley_rows(args, graph, out, keys, "sft")
                    theirs = official_rows(official, work, max_instance_per_example=cut, first_n_turns_only=first_n or big,
                                           add_prev_n_turns=big if add_prev < 0 else add_prev, **flags)
                    results.append(compare(f"sft mode={mode} per_question={cut} first_n={first_n or 'all'}"
                                           f"{' add_prev=' + str(add_prev) if mode == 'correct_turns' else ''}", ours, theirs))
    rows = sum(n for _, n, _ in results)
    same = sum(s for _, _, s in results)
    print(f"{sum(ok for ok, _, _ in results)} of {len(results)} configurations identical; rows {same} of {rows} identical")
    return 0 if all(ok for ok, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
