#!/usr/bin/env python3
"""Golden files of core/coral_eval and core/cot_eval: re-run fixed graphs, compare byte for byte.

    golden.py PARLEY_EXE SHARED_DIR [--update] [--only scripted|llama]

Runs the graphs below (the scripted test double; and, when the llama_cpp plugin is built,
stories260K at temperature 0) one conversation / sample at a time (so the order of records, of
requests and of floating-point sums is fixed), then compares every file each node writes
(records, samples, metrics, results, manifest; not the wall-clock timeline.jsonl) and every
request the backends received (`requests_log`) with tests/golden/<graph>/<file>. The comparison is on the bytes, after two
substitutions that make a run's text independent of where it ran:
  - the run's folder and the shared data folder are written as @WORK@ and @SHARED@;
  - the values of IGNORED fields (timings, dates, the build's identity) are blanked.
--update writes the golden files instead (only when the output is meant to change).
"""
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent

# Fields whose values differ between two runs of the same code: wall-clock timings, the date, the
# host and the build's git hash. Everything else must be equal.
IGNORED = ["total_s", "total_evaluation_time_seconds", "turns_per_s", "date", "host", "git_hash"]
# Files not compared: the graph itself, and timeline.jsonl (progress sampled by wall clock: its
# times and sample count differ between runs).
SKIPPED = {"g.toml", "timeline.jsonl"}
# A plugin's "(<plugin>/<component> vN, ABI 1.M)" names the minor its library was built against: a new
# minor of the header (which only appends) rebuilds every SDK plugin with it, changing no behaviour.
# Compared without the minor; the golden files keep the text they were recorded with.
ABI_RE = re.compile(r"(, ABI \d+)\.\d+\)")
IGNORED_RE = re.compile(r'("(?:%s)":\s*)("(?:[^"\\]|\\.)*"|[-+0-9.eE]+|null)' % "|".join(IGNORED))

MMLU = """[nodes.questions]
use = "mmlu_pro/domain"
data = "@SHARED@/data/mmlu_pro/test_sample_60.jsonl"
limit = 4

[nodes.problems]
use = "math/domain"
data = "@SHARED@/data/math/test"
limit = 2
"""

# Replies: turn 1 answers (A) (tree candidates A, B, C...), a reply to "(A)" says (B), a reply to
# "(B)" agrees on (B); every 5th agent request fails. The extractor reads the letter back; every
# 7th extractor call fails.
AGENT = """[nodes.{name}]
use = "scripted/backend"
default_reply = "I think so. The correct answer is ({{letter}})."
match = ["answer is (A)", "answer is (B)"]
reply = ["Hmm, maybe not. The correct answer is (B).", "Agreed, the correct answer is (B)."]
fail_every = 5
requests_log = "@WORK@/{name}_requests.jsonl"
"""
EXTRACTOR = """[nodes.{name}]
use = "scripted/backend"
default_reply = "not sure yet"
match = ["answer is (A)", "answer is (B)", "answer is (C)"]
reply = ["The answer is (A).", "The answer is (B).", "The answer is (C)."]
fail_every = 7
requests_log = "@WORK@/{name}_requests.jsonl"
"""

CORAL_CASES = {  # node -> its keys (every one with its own backends: their counters are its own)
    "coral_rule": 'extraction = "rule"\nprofile = "coral"\nseed_mode = "per_conversation"\ntrials = 2\nmax_turns = 4\n',
    "coral_llm_matrix": 'extraction = "llm"\nprofile = "matrix"\nseed_mode = "fixed"\ntrials = 2\nmax_turns = 4\n',
    "coral_tree_llm": 'extraction = "llm"\nprofile = "coral"\nseed_mode = "fixed"\nbeam = 3\ntrials = 2\nmax_turns = 3\n',
    "coral_tree_rule": 'extraction = "rule"\nprofile = "matrix"\nseed_mode = "per_conversation"\nbeam = 3\nmax_turns = 3\n',
    "coral_no_records": 'extraction = "llm"\nrecords = false\ntrials = 2\nmax_turns = 4\n',
}
COT_CASES = {
    "cot_coral": 'profile = "coral"\ntrials = 2\n',
    "cot_fixed": 'profile = "fixed"\ntrials = 2\n',
}


def scripted_graph():
    g = '[graph]\nname = "golden-scripted"\n\n' + MMLU
    for node, keys in CORAL_CASES.items():
        g += AGENT.format(name=node + "_agent") + EXTRACTOR.format(name=node + "_ext")
        g += (f'[nodes.{node}]\nuse = "core/coral_eval"\n'
              f'inputs = {{ domains = ["questions", "problems"], teacher = "{node}_agent", extractor = "{node}_ext" }}\n'
              f'max_conversations = 1\n{keys}\n')
    for node, keys in COT_CASES.items():
        g += AGENT.format(name=node + "_agent") + EXTRACTOR.format(name=node + "_ext")
        g += (f'[nodes.{node}]\nuse = "core/cot_eval"\n'
              f'inputs = {{ domains = ["questions", "problems"], backend = "{node}_agent", extractor = "{node}_ext" }}\n'
              f'max_in_flight = 1\n{keys}\n')
    return g


def llama_graph():
    return ('[graph]\nname = "golden-llama"\n\n' + MMLU.replace("limit = 4", "limit = 2") +
            '[nodes.model]\nuse = "llama_cpp/backend"\nmodel = "@SHARED@/models/stories260K.gguf"\n\n'
            '[nodes.coral]\nuse = "core/coral_eval"\ninputs = { domains = ["questions", "problems"], teacher = "model" }\n'
            'extraction = "llm"\ntemperature = 0.0\nmax_tokens = 24\nmax_turns = 3\nmax_conversations = 1\n\n'
            '[nodes.cot]\nuse = "core/cot_eval"\ninputs = { domains = ["questions", "problems"], backend = "model" }\n'
            'temperature = 0.0\nmax_tokens = 24\nmax_in_flight = 1\n')


def normalise(text, work, shared):
    text = text.replace(str(work), "@WORK@").replace(str(shared), "@SHARED@")
    return IGNORED_RE.sub(lambda m: m.group(1) + '"@IGNORED@"', text)


def run_case(name, graph, exe, shared, update):
    work = pathlib.Path(tempfile.mkdtemp(prefix="parley-golden-"))
    try:
        (work / "g.toml").write_text(graph.replace("@SHARED@", str(shared)).replace("@WORK@", str(work)))
        r = subprocess.run([exe, "run", str(work / "g.toml"), f"graph.output_dir={work / 'out'}", "--log-level", "warn"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout + r.stderr)
            return [f"{name}: parley run failed ({r.returncode})"]
        files = sorted(p for p in work.rglob("*") if p.is_file() and p.name not in SKIPPED and not p.name.endswith(".tmp"))
        got = {str(p.relative_to(work)): normalise(p.read_text(), work, shared) for p in files}
        gold_dir = HERE / name
        if update:
            shutil.rmtree(gold_dir, ignore_errors=True)
            for rel, text in got.items():
                (gold_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                (gold_dir / rel).write_text(text)
            return []
        want = {str(p.relative_to(gold_dir)): p.read_text() for p in sorted(gold_dir.rglob("*")) if p.is_file()}
        problems = [f"{name}: missing {f}" for f in sorted(set(want) - set(got))]
        problems += [f"{name}: unexpected {f}" for f in sorted(set(got) - set(want))]
        for f in sorted(set(want) & set(got)):
            if ABI_RE.sub(r"\1.x)", want[f]) != ABI_RE.sub(r"\1.x)", got[f]):
                a, b = want[f].splitlines(), got[f].splitlines()
                i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
                j = next((k for k in range(min(len(a[i]) if i < len(a) else 0, len(b[i]) if i < len(b) else 0))
                          if a[i][k] != b[i][k]), 0) if i < len(a) and i < len(b) else 0
                problems.append(f"{name}: {f} differs at line {i + 1}, column {j + 1}:\n"
                                f"  golden: {a[i][max(0, j - 60):j + 60] if i < len(a) else '(end)'}\n"
                                f"  now:    {b[i][max(0, j - 60):j + 60] if i < len(b) else '(end)'}")
        return problems
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    exe, shared = args[0], pathlib.Path(args[1]).resolve()
    update = "--update" in sys.argv
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    cases = {"scripted": scripted_graph()}
    plugins = subprocess.run([exe, "plugins"], capture_output=True, text=True).stdout
    if "llama_cpp" in plugins and (shared / "models/stories260K.gguf").exists():
        cases["llama"] = llama_graph()
    elif only == "llama":
        print("llama_cpp plugin or stories260K missing: skipped")
        return 77
    problems = []
    for name, graph in cases.items():
        if only and name != only:
            continue
        problems += run_case(name, graph, exe, shared, update)
    for p in problems:
        print(p)
    print(f"{'updated' if update else 'compared'}: {', '.join(n for n in cases if not only or n == only)}; "
          f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
