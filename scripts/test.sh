#!/usr/bin/env bash
# The test suite: set up (as the main job does), then every test through CTest.
# Extra arguments go to ctest (e.g. -L core, -R loader).
#
# A test that cannot run reports itself skipped (PARLEY_SKIP); on the standard set-up, where
# everything is installed, a skip is a failure of the set-up and this script fails. A reduced
# set-up allows them: PARLEY_ALLOW_SKIPS=1 (the default when PARLEY_WITH_TORCH=OFF).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/setup.sh"
BUILD="${PARLEY_BUILD:-$REPO/build}"
cd "$BUILD"
# OpenMP (libtorch, ggml) spins idle threads by default; beside other test processes on a small
# machine that starves everyone. Passive waiting costs little when tests run alone.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
allow_skips="${PARLEY_ALLOW_SKIPS:-$([[ "${PARLEY_WITH_TORCH:-ON}" == OFF ]] && echo 1 || echo 0)}"

log="$BUILD/ctest-last.log"
set +e
ctest --output-on-failure --no-tests=error -j"${PARLEY_TEST_JOBS:-2}" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
((rc == 0)) || exit "$rc"

# CTest's summary lists them as "  <n> - <name> (Skipped)".
skipped="$(grep -E '^[[:space:]]+[0-9]+ - .* \(Skipped\)$' "$log" || true)"
if [[ -n "$skipped" ]]; then
  if [[ "$allow_skips" == 1 ]]; then
    echo "[test] $(wc -l <<<"$skipped") tests skipped (allowed: PARLEY_ALLOW_SKIPS=1)" >&2
  else
    printf '\033[1;31m[test] error:\033[0m these tests were skipped on a full set-up (something is not installed or built):\n%s\n' "$skipped" >&2
    echo "[test] a reduced set-up may allow skips with PARLEY_ALLOW_SKIPS=1" >&2
    exit 1
  fi
fi
