#!/usr/bin/env bash
# Orchestration benchmark: Parley's Coral engine with the instant `scripted` test-double backend
# (rule-based extraction, ~500-byte turns, 20 turns per conversation, every conversation in flight
# at once) against a bare Python asyncio loop doing the same orchestration. Parley runs twice:
# records = false (orchestration alone, as the Python loop, which writes nothing) and with its
# Coral-format records written (~25 KB per conversation: a disk-bound figure, reported beside it).
# Then multi-agent debate (4 agents x 3 rounds, core/debate_eval, records = false) against the same
# Python loop running debate (`--protocol debate`), both measured in this run.
# Writes bench/results/orchestration.json.
#   bench/orchestration/run.sh [CONVERSATIONS] [PYTHON_CONVERSATIONS] [DEBATES] [PYTHON_DEBATES]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/bench/tools/need.sh" # sets BUILD
need_build parley parley_plugin_mmlu_pro parley_plugin_scripted # the Python loop needs only the standard library
N="${1:-102000}"          # conversations (a multiple of 60: the MMLU-Pro sample x trials)
DEBATES="${3:-12000}"     # debates (items x trials; a multiple of 60)
# The Python loop runs as many conversations (debates) in flight as Parley by default: both pay
# for their memory per conversation (page faults dominate at 100k in flight on a VM), so fewer
# in flight would flatter the Python side (at 10,000 it does 1.5x the turns per CPU-second it
# does at 102,000 on this machine).
PY_N="${2:-$N}"
PY_DEBATES="${4:-$DEBATES}"
SHARED="${PARLEY_SHARED_DIR:-$REPO/../shared}"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
PAD="Let me work through this problem carefully from the start, step by step, looking at every option in turn and checking the arithmetic again. The first option does not fit the constraints given in the question, the second is close but ignores the threshold, and the remaining ones fail the basic sanity check on magnitude. After weighing all of this together with what was said so far, I am fairly confident in my reading of the problem and in the calculation I just did."
REPLY_A="$PAD The correct answer is (A)."
REPLY_B="$PAD The correct answer is (B)."

graph() { # $1 = trials
cat > "$WORK/g$1.toml" <<TOML
[nodes.questions]
use = "mmlu_pro/domain"
data = "$SHARED/data/mmlu_pro/test_sample_60.jsonl"

[nodes.model]
use = "scripted/backend"
match = ["(A)"]
reply = ["$REPLY_B"]
default_reply = "$REPLY_A"

[nodes.coral]
use = "core/coral_eval"
inputs = { domains = ["questions"], teacher = "model" }
extraction = "rule"
max_turns = 20
trials = $1
max_conversations = 1000000
TOML
}

run_parley() { # $1 = trials, $2 = records (true|false), $3 = tag -> prints "peak_rss_kb" ($WORK/cpu$3: user+sys seconds)
  graph "$1"
  /usr/bin/time -f "%M %U %S" -o "$WORK/time$3" "$BUILD/bin/parley" run "$WORK/g$1.toml" "graph.output_dir=$WORK/out$3" \
    "nodes.coral.records=$2" --log-level warn > /dev/null # (stdout: the end-of-run table)
  awk '{print $2 + $3}' "$WORK/time$3" > "$WORK/cpu$3"
  awk '{print $1}' "$WORK/time$3"
}

TRIALS=$((N / 60))
small_rss=$(run_parley 1 false small)
big_rss=$(run_parley "$TRIALS" false big)              # orchestration alone, as the Python loop
rec_rss=$(run_parley "$TRIALS" true records)           # the same, writing every record (JSONL) too
records_bytes=$(stat -c %s "$WORK/outrecords/coral/records_questions.jsonl")
rm -f "$WORK/outrecords/coral/records_questions.jsonl"
# What writing as many bytes costs on this file system with nothing else to do (dd, 4 MiB blocks):
# the records figure is bound by it.
disk_mb_s=$(dd if=/dev/zero of="$WORK/dd" bs=4M count=$((records_bytes / 4194304)) 2>&1 | awk '/copied/ {print $(NF-3), $(NF-2), $(NF-1), $NF}')
rm -f "$WORK/dd"
python3 "$REPO/bench/orchestration/python_baseline.py" --conversations "$PY_N" --turns 20 \
  --reply-a "$REPLY_A" --reply-b "$REPLY_B" > "$WORK/python.json"

# Multi-agent debate: 4 agents x 3 rounds (12 answers per item), rule extraction, every debate in flight.
debate_graph() { # $1 = trials
cat > "$WORK/d$1.toml" <<TOML
[nodes.questions]
use = "mmlu_pro/domain"
data = "$SHARED/data/mmlu_pro/test_sample_60.jsonl"

[nodes.model]
use = "scripted/backend"
match = ["(A)"]
reply = ["$REPLY_B"]
default_reply = "$REPLY_A"

[nodes.debate]
use = "core/debate_eval"
inputs = { domains = ["questions"], backends = ["model"] }
agents = 4
rounds = 3
extraction = "rule"
trials = $1
records = false
max_in_flight = 1000000
TOML
}
run_debate() { # $1 = trials, $2 = tag -> prints "peak_rss_kb"
  debate_graph "$1"
  /usr/bin/time -f "%M" -o "$WORK/drss$2" "$BUILD/bin/parley" run "$WORK/d$1.toml" "graph.output_dir=$WORK/dout$2" --log-level warn > /dev/null
  cat "$WORK/drss$2"
}
debate_small_rss=$(run_debate 1 small)
debate_big_rss=$(run_debate $((DEBATES / 60)) big)
python3 "$REPO/bench/orchestration/python_baseline.py" --protocol debate --agents 4 --rounds 3 --conversations "$PY_DEBATES" \
  --reply-a "$REPLY_A" --reply-b "$REPLY_B" > "$WORK/python_debate.json"

python3 - "$WORK" "$TRIALS" "$small_rss" "$big_rss" "$N" "$PY_N" "$REPO" "$*" "$rec_rss" "$records_bytes" "$disk_mb_s" \
  "$debate_small_rss" "$debate_big_rss" <<'PY'
import json, os, sys
work, trials, small, big, n, py_n, repo, args, rec_rss, rec_bytes, disk, d_small, d_big = sys.argv[1:14]
def debate_figures(work, small, big):
    """core/debate_eval (4 agents x 3 rounds, records = false) vs the Python loop running debate."""
    res = json.load(open(f"{work}/doutbig/debate/results.json"))
    py = json.load(open(f"{work}/python_debate.json"))
    usage = res["usage"]
    in_flight = int(usage["peak_items_in_flight"])
    bytes_per = (int(big) - int(small)) * 1024 / max(1, in_flight - 60)
    return {
        "agents": 4, "rounds": 3,
        "items": res["results"]["questions"]["items"],
        "items_in_flight": in_flight,
        "answers": usage["answers"],
        "answers_per_s": usage["answers_per_s"],
        "seconds": res["total_evaluation_time_seconds"],
        "host_bytes_per_item": bytes_per,
        "python_asyncio": py,
        "answers_per_s_vs_python": usage["answers_per_s"] / py["answers_per_s"],
        "bytes_per_item_vs_python": bytes_per / py["bytes_per_item"],
    }


res = json.load(open(f"{work}/outbig/coral/results.json"))
rec = json.load(open(f"{work}/outrecords/coral/results.json"))
py = json.load(open(f"{work}/python.json"))
usage = res["usage"]
conv = int(usage["peak_conversations_in_flight"])
bytes_per = (int(big) - int(small)) * 1024 / max(1, conv - 60)
cpu = float(open(f"{work}/cpubig").read())  # the whole process, user + sys, every thread
out = {
    "command": "bench/orchestration/run.sh " + args if args else "bench/orchestration/run.sh",
    "conversations": res["results"]["questions"]["conversations"],
    "conversations_in_flight": conv,
    "turns": usage["turns"],
    "turns_per_s": usage["turns_per_s"],
    "seconds": res["total_evaluation_time_seconds"],
    "peak_rss_bytes": int(big) * 1024,
    "host_bytes_per_conversation": bytes_per,
    "python_asyncio": py,
    "turns_per_s_vs_python": usage["turns_per_s"] / py["turns_per_s"],
    # CPU time is what a loaded machine does not distort: turns per CPU-second of the whole
    # parley process (every thread, start-up included) against the Python loop's.
    "cpu_seconds": cpu,
    "turns_per_cpu_s": usage["turns"] / cpu,
    "turns_per_cpu_s_vs_python": usage["turns"] / cpu / py["turns_per_cpu_s"],
    "bytes_per_conversation_vs_python": bytes_per / py["bytes_per_conversation"],
    "with_records": {
        "turns_per_s": rec["usage"]["turns_per_s"],
        "seconds": rec["total_evaluation_time_seconds"],
        "records_bytes": int(rec_bytes),
        "records_mb_per_s": int(rec_bytes) / 1e6 / rec["total_evaluation_time_seconds"],
        "peak_rss_bytes": int(rec_rss) * 1024,
        "dd_same_bytes": disk,
    },
    "debate": debate_figures(work, d_small, d_big),
    "machine": {"cpus": os.cpu_count()},
    "note": "scripted test-double backend (instant), rule-based extraction, 20 turns of ~500 bytes; "
            "turns_per_s: records = false (orchestration alone, as the Python loop, which writes nothing); "
            "with_records: the same run writing Coral-format JSONL records (~25 KB per conversation), bound by writing them (dd_same_bytes: dd writing as many bytes alone); "
            "bytes per conversation = peak RSS growth from 60 to N conversations in flight; "
            "the Python loop runs the same number of conversations in flight (debates: items) unless given fewer; "
            "debate: 4 agents x 3 rounds, rule extraction, records = false, against the Python loop running debate, answers counted as turns",
}
os.makedirs(f"{repo}/bench/results", exist_ok=True)
json.dump(out, open(f"{repo}/bench/results/orchestration.json", "w"), indent=2)
print(json.dumps(out, indent=2))
PY
