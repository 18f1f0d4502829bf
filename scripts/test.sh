#!/usr/bin/env bash
# The test suite: set up (as the main job does), then every test through CTest.
# Extra arguments go to ctest (e.g. -L core, -R loader).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/setup.sh"
cd "${PARLEY_BUILD:-$REPO/build}"
# OpenMP (libtorch, ggml) spins idle threads by default; beside other test processes on a small
# machine that starves everyone. Passive waiting costs little when tests run alone.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
exec ctest --output-on-failure -j"${PARLEY_TEST_JOBS:-2}" "$@"
