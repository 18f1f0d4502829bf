#!/usr/bin/env bash
# parley report (and parley compare, and the end-of-run table) on a real stories260K run, then
# the report opened in headless Chromium by report_test.mjs; a synthetic 100,000-conversation run
# for scale. Screenshots and figures: <build>/browser-report/.
# usage: report_browser.sh PARLEY_EXE SOURCE_DIR SHARED_DIR BUILD_DIR
set -euo pipefail
PARLEY=$1 SRC=$2 SHARED=$3 BUILD=$4
WORK=$BUILD/browser-report
skip() { echo "SKIP: $*"; exit 77; }
command -v chromium >/dev/null || skip "no chromium (Debian package 'chromium'; scripts/setup.sh installs it)"
command -v npm >/dev/null || skip "no npm"
[[ -f $SHARED/models/stories260K.gguf ]] || skip "no $SHARED/models/stories260K.gguf"
rm -rf "$WORK/runs" "$WORK/shots" && mkdir -p "$WORK"
# (the test script runs from $WORK, where npm ci puts node_modules: Node resolves imports from the script's folder)
cp "$SRC/tests/browser/package.json" "$SRC/tests/browser/package-lock.json" "$SRC/tests/browser/report_test.mjs" "$WORK/"
(cd "$WORK" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

# A real run; its end-of-run table names both evaluation nodes.
export PARLEY_SHARED_DIR=$SHARED
(cd "$WORK" && "$PARLEY" run "$SRC/tests/browser/report-graph.toml" graph.output_dir="$WORK/runs/small" --log-level warn) > "$WORK/run.out"
grep -q "macro average" "$WORK/run.out" || { cat "$WORK/run.out"; echo "FAIL: no end-of-run table"; exit 1; }
grep -q "cot (final_success_rate)" "$WORK/run.out" && grep -q "coral (agreement_correctness)" "$WORK/run.out" \
  || { cat "$WORK/run.out"; echo "FAIL: the table lacks a node"; exit 1; }
[[ -s $WORK/runs/small/coral/timeline.jsonl ]] || { echo "FAIL: no timeline.jsonl"; exit 1; }
cat "$WORK/run.out"

# parley compare across protocols (CoT vs Coral on the same items): paired, table and JSON.
"$PARLEY" compare "$WORK/runs/small/cot" "$WORK/runs/small/coral" | tee "$WORK/compare.txt"
grep -q "^macro" "$WORK/compare.txt" || { echo "FAIL: compare printed no macro row"; exit 1; }
"$PARLEY" compare "$WORK/runs/small/cot" "$WORK/runs/small/coral" --json > "$WORK/compare.json"
python3 - "$WORK/compare.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["comparisons"][0]
assert c["macro"]["paired"] == 8, c["macro"]           # 2 domains x 4 items x 1 trial
assert c["macro"]["unpaired_a"] == c["macro"]["unpaired_b"] == 0
assert c["a"]["metric"] == "final_success_rate" and c["b"]["metric"] == "agreement_correctness"
print("compare --json: ok")
PY
# --fail-if-worse: a run compared with itself is never worse; any B is "worse" than -1.
"$PARLEY" compare "$WORK/runs/small/coral" "$WORK/runs/small/coral" --fail-if-worse 0 >/dev/null
set +e; "$PARLEY" compare "$WORK/runs/small/coral" "$WORK/runs/small/coral" --fail-if-worse -1 >/dev/null 2>&1; rc=$?; set -e
[[ $rc == 1 ]] || { echo "FAIL: --fail-if-worse -1 exited $rc, expected 1"; exit 1; }

# The reports: default (GPQA hidden), --show-sensitive, and a synthetic 100,000-conversation run.
"$PARLEY" report "$WORK/runs/small" -o "$WORK/report.html"
"$PARLEY" report "$WORK/runs/small" -o "$WORK/report-shown.html" --show-sensitive
python3 "$SRC/tests/browser/make_synthetic_run.py" "$WORK/runs/synthetic" --conversations 100000
"$PARLEY" report "$WORK/runs/synthetic" -o "$WORK/report-100k.html"

cd "$WORK"
RUN_DIR=$WORK/runs/small REPORT_SMALL=$WORK/report.html REPORT_SHOWN=$WORK/report-shown.html \
REPORT_LARGE=$WORK/report-100k.html LARGE_RUN=$WORK/runs/synthetic/coral SHOTS_DIR=$WORK/shots node "$WORK/report_test.mjs"
