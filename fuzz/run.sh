#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/README.md) in their own folder, generates the seed corpora,
# runs each target for a bounded time, one after the other, and records the figures.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET ...]     (default 60 s; every target)
#
# Environment: PARLEY_FUZZ_BUILD (default <repo>/build-fuzz), PARLEY_JOBS (build jobs, default 2),
# PARLEY_SHARED_DIR (default ../shared), PARLEY_DEPS (llama.cpp's cache, for ggml: ~/.cache/parley),
# PARLEY_FUZZ_NICE (default 10), PARLEY_FUZZ_SKIP_BUILD=1 (run what is built). Writes fuzz/results.json: per target, every run's executions,
# exec/s, coverage, corpus size and findings, and the totals. Findings (crash-*, timeout-*, oom-*,
# leak-* inputs and the fuzzer's log) stay in <build>/fuzz/findings/<target>/: a GPQA-derived input
# holds benchmark text, so neither it nor the log is printed or committed (see fuzz/README.md).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${PARLEY_FUZZ_BUILD:-$REPO/build-fuzz}"
SHARED="${PARLEY_SHARED_DIR:-$REPO/../shared}"
DEPS="${PARLEY_DEPS:-$HOME/.cache/parley}"
JOBS="${PARLEY_JOBS:-2}"
NICE="${PARLEY_FUZZ_NICE:-10}"
SECONDS_PER_TARGET="${1:-60}"
shift || true

say() { printf '\033[1;34m[fuzz]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[fuzz] error:\033[0m %s\n' "$*" >&2; exit 1; }
[[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || die "SECONDS_PER_TARGET must be a whole number, got '$SECONDS_PER_TARGET'"

# --- 1. clang with libFuzzer and the sanitizer runtimes (Debian's) -------------------------------
source "$REPO/scripts/lib/apt.sh"
apt_install clang libclang-rt-dev

# --- 2. the build (its own folder; never build/) --------------------------------------------------
# The plugins graph_validate loads for their schemas (grpc, the slowest to build, left out).
FUZZ_PLUGINS="mmlu_pro;math;gpqa;explore_tom;hitom;arithmetic;scripted;openai;filters"
llama_prefix="$(ls -d "$DEPS"/llama.cpp-*/prefix 2>/dev/null | head -1 || true)" # ggml, for gguf_metadata
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  say "configuring $BUILD (clang, -fsanitize=fuzzer,address,undefined)"
  launcher=(); command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  CC=clang CXX=clang++ cmake -S "$REPO" -B "$BUILD" -G Ninja "${launcher[@]}" \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DCMAKE_C_FLAGS_DEBUG="-O1 -g" \
    -DPARLEY_FUZZ=ON -DPARLEY_BUILD_TESTS=OFF -DPARLEY_WITH_LLAMA=OFF -DPARLEY_WITH_TORCH=OFF -DPARLEY_WITH_JEMALLOC=OFF \
    -DPARLEY_PLUGINS="$FUZZ_PLUGINS" \
    ${llama_prefix:+-DCMAKE_PREFIX_PATH="$llama_prefix"} >/dev/null
fi
build_targets=(fuzz_all); (($#)) && build_targets=("${@/#/fuzz_}")
if [[ "${PARLEY_FUZZ_SKIP_BUILD:-0}" != 1 ]]; then
  say "building ${build_targets[*]}"
  nice -n "$NICE" cmake --build "$BUILD" -j"$JOBS" --target "${build_targets[@]}" >/dev/null \
    || die "build failed: cmake --build $BUILD --target ${build_targets[*]}"
fi

# --- 3. seeds ----------------------------------------------------------------------------------------
SEEDS="$BUILD/fuzz/seeds"
rm -rf "$SEEDS"
python3 "$REPO/fuzz/make_seeds.py" "$SHARED" "$REPO" "$SEEDS" >/dev/null

# --- 4. the runs ---------------------------------------------------------------------------------------
mapfile -t all < "$BUILD/fuzz/targets.txt"
targets=("$@"); ((${#targets[@]})) || targets=("${all[@]}")
max_len() {
  case "$1" in
    load_*|coral_records) echo 8192 ;;
    graph_validate|openai_response) echo 8192 ;;
    *) echo 4096 ;;
  esac
}
RUNS="$BUILD/fuzz/runs.jsonl" # one line per run, folded into fuzz/results.json
for t in "${targets[@]}"; do
  exe="$BUILD/fuzz/fuzz_$t"
  [[ -x "$exe" ]] || die "no fuzz target '$t' (built: ${all[*]})"
  corpus="$BUILD/fuzz/corpus/$t"; findings="$BUILD/fuzz/findings/$t"; log="$findings/fuzz.log"
  mkdir -p "$corpus" "$findings"
  dirs=("$corpus")
  for d in "$SEEDS/$t" "$REPO/fuzz/seeds/$t" "$REPO/fuzz/regressions/$t"; do [[ -d "$d" ]] && dirs+=("$d"); done
  dict=(); case "$t" in load_math|load_mmlu_pro|load_hitom|coral_records|openai_response) dict=(-dict="$REPO/fuzz/dicts/json.dict") ;; esac
  say "$t: ${SECONDS_PER_TARGET} s"
  left=$SECONDS_PER_TARGET; start=$(date +%s); : > "$log"
  # libFuzzer stops at a finding: record it and go on with the time left (at most 8 findings).
  for attempt in 1 2 3 4 5 6 7 8; do
    ((left > 0)) || break
    rc=0
    nice -n "$NICE" "$exe" -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
      -print_final_stats=1 -artifact_prefix="$findings/" "${dict[@]}" "${dirs[@]}" >>"$log" 2>&1 || rc=$?
    ((rc == 0)) && break
    left=$((SECONDS_PER_TARGET - ($(date +%s) - start)))
  done
  python3 - "$t" "$log" "$corpus" "$findings" "$SECONDS_PER_TARGET" "$(date -u +%FT%TZ)" >>"$RUNS" <<'PY'
import json, re, sys
from pathlib import Path
t, log, corpus, findings, seconds, when = sys.argv[1:]
text = Path(log).read_text(errors="replace")
execs = sum(int(x) for x in re.findall(r"stat::number_of_executed_units: (\d+)", text))
rates = [int(x) for x in re.findall(r"stat::average_exec_per_sec:\s+(\d+)", text)]
cov = re.findall(r"cov: (\d+) ft: (\d+)", text)
# What each finding was: the sanitizer's or the runtime's one-line summary (never the input).
kinds = re.findall(r"(SUMMARY: \w+Sanitizer: [^\n]*|ERROR: libFuzzer: [\w-]+|terminate called after throwing an instance of '[^']*'|"
                   r"runtime error: [^\n]*)", text)
arts = sorted(p.name for p in Path(findings).iterdir() if re.match(r"(crash|timeout|oom|leak|slow-unit)-", p.name))
print(json.dumps({"target": t, "when": when, "seconds": int(seconds), "executions": execs,
                  "exec_per_s": round(execs / max(1, int(seconds))) if not rates else int(sum(rates) / len(rates)),
                  "coverage": int(cov[-1][0]) if cov else 0, "features": int(cov[-1][1]) if cov else 0,
                  "corpus": sum(1 for _ in Path(corpus).iterdir()), "findings": arts, "finding_kinds": sorted(set(kinds))}))
PY
  tail -1 "$RUNS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("  %(target)s: %(executions)d executions, %(exec_per_s)d/s, cov %(coverage)d, corpus %(corpus)d," % r, len(r["findings"]), "finding(s)")' >&2
done

# --- 5. fuzz/results.json: every recorded run and the totals per target ------------------------------
python3 - "$RUNS" "$REPO/fuzz/results.json" <<'PY'
import json, sys
from pathlib import Path
runs = [json.loads(l) for l in Path(sys.argv[1]).read_text().splitlines() if l.strip()]
out = {"command": "fuzz/run.sh [SECONDS_PER_TARGET] [TARGET ...]", "targets": {}}
for r in runs:
    t = out["targets"].setdefault(r["target"], {"seconds": 0, "executions": 0, "runs": []})
    t["seconds"] += r["seconds"]; t["executions"] += r["executions"]; t["runs"].append(r)
for t in out["targets"].values():
    last = t["runs"][-1]
    t["exec_per_s"] = round(t["executions"] / max(1, t["seconds"]))
    t["corpus"] = last["corpus"]; t["coverage"] = max(r["coverage"] for r in t["runs"])
    t["findings"] = sorted({f for r in t["runs"] for f in r["findings"]})
Path(sys.argv[2]).write_text(json.dumps(out, indent=1) + "\n")
PY
say "figures: fuzz/results.json; findings: $BUILD/fuzz/findings/<target>/"
