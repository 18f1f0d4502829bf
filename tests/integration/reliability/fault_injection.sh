#!/usr/bin/env bash
# Fault injection (#18): Coral through tests/servers/fault_proxy.py to a real llama-server on
# stories260K. The proxy injects 5xx, 429 with Retry-After, connection resets, stalls past the
# client's deadline, truncated JSON and slow drips. Checks: the run finishes; every conversation
# appears exactly once, finished or with its failed turn and cause (status_ok false, error text);
# each injected fault kind happened; after each 429 the replica waited its Retry-After (no request
# reached the proxy in (t + 0.25 s, t + Retry-After − 0.1 s)). Exit 77 without model or server.
# usage: fault_injection.sh PARLEY SOURCE_DIR SHARED_DIR LLAMA_TOOLS_DIR
set -euo pipefail
PARLEY="$1"; SOURCE="$2"; SHARED="$3"; SERVER="$4/llama-server"
MODEL="$SHARED/models/stories260K.gguf"
[[ -f "$MODEL" ]] || { echo "skipped: no $MODEL"; exit 77; }
[[ -x "$SERVER" ]] || { echo "skipped: no llama-server in $4"; exit 77; }
/usr/bin/python3 -c "import aiohttp" 2>/dev/null || { echo "skipped: no python3-aiohttp"; exit 77; }
HERE="$SOURCE/tests/integration/reliability"
WORK="$(mktemp -d /tmp/parley-faults-XXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; [[ -n "${KEEP:-}" ]] || rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$SERVER" -m "$MODEL" --host 127.0.0.1 --port "$PORT" -np 4 -c 8192 -t 1 --no-webui > "$WORK/server.log" 2>&1 & pids+=($!)
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && break; sleep 0.1; done
/usr/bin/python3 "$SOURCE/tests/servers/fault_proxy.py" --upstream "http://127.0.0.1:$PORT" --port-file "$WORK/proxy_port" \
  --log "$WORK/faults.jsonl" --seed 18 --retry-after 1 --stall-s 45 \
  --rates "500=0.08,429=0.08,reset=0.08,stall=0.04,truncate=0.08,drip=0.08" > "$WORK/proxy.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do [[ -s "$WORK/proxy_port" ]] && break; sleep 0.1; done
[[ -s "$WORK/proxy_port" ]] || { echo "FAIL: the proxy did not start"; cat "$WORK/proxy.log"; exit 1; }

PARLEY_PROXY_URL="http://127.0.0.1:$(cat "$WORK/proxy_port")" PARLEY_SHARED_DIR="$SHARED" \
  "$PARLEY" run "$HERE/faults.toml" "graph.output_dir=$WORK/out" > "$WORK/run.log" 2>&1 \
  || { echo "FAIL: the run through the faults failed"; tail -20 "$WORK/run.log"; exit 1; }

/usr/bin/python3 - "$WORK/out/coral/records_mmlu_pro.jsonl" "$WORK/faults.jsonl" <<'PY'
import collections, json, sys
records = [json.loads(l) for l in open(sys.argv[1])]
keys = [(r["parley"]["id"], r["parley"]["trial"]) for r in records]
assert len(records) == 12 and len(set(keys)) == 12, f"{len(records)} records, {len(set(keys))} distinct: expected 12 exactly once"
failed = collections.Counter()
for r in records:
    bad = [t["info"] for t in r["conv_result"][1:] if not t["info"].get("status_ok", True)]
    assert len(bad) <= 1 and (not bad or r["conv_result"][-1]["info"] is bad[0]), "a failed turn must end its conversation"
    for info in bad:
        assert info.get("error"), "a failed turn without its cause"
        failed[info["error"].split(":")[0][:60]] += 1
log = [json.loads(l) for l in open(sys.argv[2])]
kinds = collections.Counter(e["fault"] for e in log)
missing = [k for k in ("500", "429", "reset", "stall", "truncate", "drip") if kinds[k] == 0]
assert not missing, f"faults never injected: {missing} ({dict(kinds)})"
early = []
for e in log:
    if e["fault"] == "429":
        early += [x for x in log if e["t"] + 0.25 < x["t"] < e["t"] + 1 - 0.1]
assert not early, f"{len(early)} requests reached the server inside a Retry-After pause, first at {early[0]['t']}"
print(f"faults: {sum(v for k, v in kinds.items() if k != 'none')} injected in {len(log)} completion requests "
      f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()) if k != 'none')}); 12 conversations exactly once, "
      f"{12 - sum(failed.values())} finished, {sum(failed.values())} recorded as failed with their cause {dict(failed)}; "
      f"no request inside a Retry-After pause")
PY
