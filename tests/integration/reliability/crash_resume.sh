#!/usr/bin/env bash
# Crash and resume (#18): a Coral + CoT run (resume.toml: the scripted test double, fixed seeds)
#   kill: SIGKILLed at random moments several times and resumed each time, then a sharded run
#         whose shards are each killed and resumed, joined by `parley merge`: the final files equal
#         an uninterrupted run's (same_outputs.py: every record exactly once, same metrics).
#   disk: the output folder on a 700 KB tmpfs (it fills mid-run) and then remounted read-only:
#         each run fails naming the path, the records written stay whole, and the run resumed
#         elsewhere completes to the uninterrupted run's files. Exit 77 (skipped) without mount.
# usage: crash_resume.sh PARLEY SOURCE_DIR SHARED_DIR kill|disk
set -euo pipefail
PARLEY="$1"; SOURCE="$2"; SHARED="$3"; MODE="$4"
HERE="$SOURCE/tests/integration/reliability"
GRAPH="$HERE/resume.toml"
export PARLEY_SHARED_DIR="$SHARED"
[[ -f "$SHARED/data/mmlu_pro/test_sample_60.jsonl" ]] || { echo "skipped: no MMLU-Pro sample"; exit 77; }
WORK="$(mktemp -d /tmp/parley-resume-XXXX)"
MNT=""
cleanup() { [[ -n "$MNT" ]] && umount "$MNT" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
NODES=(coral cot)
run() { local out="$1"; shift; "$PARLEY" run "$GRAPH" "graph.output_dir=$out" --log-level warn "$@" > /dev/null; }
same() {  # DIR: DIR's outputs equal the uninterrupted run's
  python3 "$HERE/same_outputs.py" "$WORK/ref" "$1" "${NODES[@]}"
}

run "$WORK/ref"

if [[ "$MODE" == kill ]]; then
  RANDOM=18  # the kill times are random, and the same in every run of this test
  kills=0
  # Runs OUT [overrides...] and kills it with SIGKILL after a random 0.2-1.6 s, five times, then
  # lets it finish.
  kill_and_resume() {
    local out="$1"; shift
    for _ in 1 2 3 4 5; do
      "$PARLEY" run "$GRAPH" "graph.output_dir=$out" --log-level warn "$@" > /dev/null 2>&1 &
      local pid=$!
      sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + (r % 15) / 10 }')"
      if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
      wait "$pid" 2>/dev/null || true
    done
    run "$out" "$@" || { echo "FAIL: the resumed run of $out failed"; exit 1; }
  }
  kill_and_resume "$WORK/killed"
  same "$WORK/killed"
  before=$kills
  for i in 0 1 2; do kill_and_resume "$WORK/sharded" "graph.shard=$i/3"; done
  # Joined, then summarized as one whole run: results.json too equals the uninterrupted run's.
  "$PARLEY" merge "$WORK/sharded" "$GRAPH" --log-level warn > /dev/null 2>&1 || { echo "FAIL: parley merge"; exit 1; }
  same "$WORK/sharded"
  [[ "$before" -ge 3 && "$kills" -ge 6 ]] || { echo "FAIL: only $kills kills landed mid-run"; exit 1; }
  echo "crash and resume: $kills SIGKILLs ($before in the plain run, $((kills - before)) across 3 shards), each resumed; final files equal the uninterrupted run's, merge included"
  exit 0
fi

# disk
MNT="$WORK/small"
mkdir -p "$MNT"
mount -t tmpfs -o size=700k tmpfs "$MNT" 2>/dev/null || { MNT=""; echo "skipped: cannot mount a tmpfs here"; exit 77; }
status=0; "$PARLEY" run "$GRAPH" "graph.output_dir=$MNT/out" --log-level warn > "$WORK/full.log" 2>&1 || status=$?
[[ "$status" -ne 0 && "$status" -lt 128 ]] || { echo "FAIL: a run into a full disk exited $status (0, or killed by a signal)"; tail -3 "$WORK/full.log"; exit 1; }
grep -q "$MNT/out" "$WORK/full.log" && grep -qi "no space left" "$WORK/full.log" \
  || { echo "FAIL: the error does not name the path and the cause"; tail -5 "$WORK/full.log"; exit 1; }
whole() {  # every line of every JSONL there is a whole record (a torn tail is what resume drops)
  python3 - "$1" <<'PY'
import json, pathlib, sys
n = 0
for p in pathlib.Path(sys.argv[1]).rglob("*.jsonl"):
    data = p.read_bytes()
    body = data[: data.rfind(b"\n") + 1]  # a last line without its newline is torn
    for line in body.splitlines():
        json.loads(line); n += 1
print(n)
PY
}
kept=$(whole "$MNT/out")
sums() { find "$1" -type f -exec md5sum {} + | sort; }
sums "$MNT/out" > "$WORK/before.md5"
mount -o remount,ro "$MNT"
status=0; "$PARLEY" run "$GRAPH" "graph.output_dir=$MNT/out" --log-level warn > "$WORK/ro.log" 2>&1 || status=$?
[[ "$status" -ne 0 && "$status" -lt 128 ]] || { echo "FAIL: a run into a read-only folder exited $status"; tail -3 "$WORK/ro.log"; exit 1; }
grep -q "$MNT/out" "$WORK/ro.log" && grep -qi "read-only" "$WORK/ro.log" \
  || { echo "FAIL: the read-only error does not name the path and the cause"; tail -5 "$WORK/ro.log"; exit 1; }
sums "$MNT/out" | cmp -s - "$WORK/before.md5" || { echo "FAIL: the read-only run changed the files"; exit 1; }
cp -r "$MNT/out" "$WORK/moved"
run "$WORK/moved" || { echo "FAIL: the run moved off the full disk did not resume"; exit 1; }
same "$WORK/moved"
echo "full and read-only output: clear errors naming $MNT/out; $kept whole records kept; resumed elsewhere to the uninterrupted run's files"
