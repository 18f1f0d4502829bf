#!/usr/bin/env bash
# Orchestration benchmark: Parley's Coral engine with the instant `scripted` test-double backend
# (rule-based extraction, ~500-byte turns, 20 turns per conversation, every conversation in flight
# at once) against a bare Python asyncio loop doing the same orchestration. Parley runs twice:
# records = false (orchestration alone, as the Python loop, which writes nothing) and with its
# Coral-format records written (~25 KB per conversation: a disk-bound figure, reported beside it).
# Writes bench/results/orchestration.json.
#   bench/orchestration/run.sh [CONVERSATIONS] [PYTHON_CONVERSATIONS]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${PARLEY_BUILD:-$REPO/build}"
N="${1:-102000}"          # conversations (a multiple of 60: the MMLU-Pro sample x trials)
PY_N="${2:-10000}"
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
    "nodes.coral.records=$2" --log-level warn
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

python3 - "$WORK" "$TRIALS" "$small_rss" "$big_rss" "$N" "$PY_N" "$REPO" "$*" "$rec_rss" "$records_bytes" "$disk_mb_s" <<'PY'
import json, os, sys
work, trials, small, big, n, py_n, repo, args, rec_rss, rec_bytes, disk = sys.argv[1:12]
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
    "machine": {"cpus": os.cpu_count()},
    "note": "scripted test-double backend (instant), rule-based extraction, 20 turns of ~500 bytes; "
            "turns_per_s: records = false (orchestration alone, as the Python loop, which writes nothing); "
            "with_records: the same run writing Coral-format JSONL records (~25 KB per conversation), bound by writing them (dd_same_bytes: dd writing as many bytes alone); "
            "bytes per conversation = peak RSS growth from 60 to N conversations in flight",
}
os.makedirs(f"{repo}/bench/results", exist_ok=True)
json.dump(out, open(f"{repo}/bench/results/orchestration.json", "w"), indent=2)
print(json.dumps(out, indent=2))
PY
