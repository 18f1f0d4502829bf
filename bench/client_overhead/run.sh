#!/usr/bin/env bash
# The client's own cost: the openai plugin vs a Coral-style aiohttp client against an instant
# loopback stub server, at 1,000 and 10,000 requests in flight (bench/README.md, "Client overhead").
# Writes bench/results/client-overhead.json.
#   bench/client_overhead/run.sh [REQUESTS] [PYTHON_REQUESTS]   (defaults 20000 and 5000 per level and client)
#   LEVELS (1000,10000): requests in flight; RUNS (2): runs, the headline ratios are their median
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$REPO/bench/client_overhead"
WORK="${BENCH_WORK:-$REPO/bench/work/client_overhead}"
REQUESTS="${1:-20000}"
PY_REQUESTS="${2:-5000}"
LEVELS="${LEVELS:-1000,10000}"
mkdir -p "$WORK"

source "$REPO/bench/tools/need.sh"
need_python aiohttp python3-aiohttp # the Coral-style client
need_build parley_plugin_openai
c++ -O2 -std=c++20 -Wall -Wextra -o "$WORK/stub_server" "$HERE/stub_server.cpp"
# The driver loads the plugin as `parley` does, so it also gets the allocator `parley` runs with:
# jemalloc with the host's start-up options (core/cli/allocator.cpp), when jemalloc is installed
# (as core/CMakeLists.txt links it); otherwise the C library's, as `parley` then has.
ALLOC=()
if [[ -n "$(/sbin/ldconfig -p 2>/dev/null | grep -F 'libjemalloc.so ')" ]]; then
  ALLOC=("$REPO/core/cli/allocator.cpp" -ljemalloc)
fi
c++ -O2 -std=c++20 -Wall -Wextra -I "$REPO/sdk/include" -o "$WORK/client_overhead" "$HERE/client_overhead.cpp" "${ALLOC[@]}" -ldl -lpthread

RUNS="${RUNS:-2}"
COMMAND="LEVELS=$LEVELS RUNS=$RUNS bench/client_overhead/run.sh $REQUESTS $PY_REQUESTS"
cd "$REPO"
for i in $(seq 1 "$RUNS"); do
  "$WORK/client_overhead" --plugins "$BUILD/plugins" --stub "$WORK/stub_server" --here "$HERE" \
    --levels "$LEVELS" --requests "$REQUESTS" --python-requests "$PY_REQUESTS" \
    --out "$WORK/run$i.json" --command "$COMMAND" >/dev/null
done
# One file: every run, and the headline ratios as the median over runs (each ratio is measured
# within one run: plugin and Python against the same stub, back to back).
/usr/bin/python3 - "$WORK" "$RUNS" "$REPO/bench/results/client-overhead.json" <<'PY'
import json, statistics, sys
work, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = [json.load(open(f"{work}/run{i}.json")) for i in range(1, n + 1)]
res = {k: v for k, v in runs[0].items() if k not in ("levels",)}
for key in ("cpu_per_request_vs_python", "requests_per_s_vs_python"):
    res[key] = statistics.median(r[key] for r in runs)
    res[key + "_runs"] = [r[key] for r in runs]
res["runs"] = [r["levels"] for r in runs]
res["load_average_runs"] = [{"start": r.get("load_average_start"), "end": r.get("load_average_end")} for r in runs]
res.pop("load_average_start", None)
res.pop("load_average_end", None)
json.dump(res, open(out, "w"), indent=2)
print(json.dumps({k: res[k] for k in ("cpu_per_request_vs_python", "requests_per_s_vs_python",
                                       "cpu_per_request_vs_python_runs", "requests_per_s_vs_python_runs")}))
PY
