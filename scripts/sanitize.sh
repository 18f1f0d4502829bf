#!/usr/bin/env bash
# The test suite under sanitizers, in a build folder of its own:
#   scripts/sanitize.sh asan [ctest args...]   ASan + UBSan (+ LSan) in build-asan
#   scripts/sanitize.sh tsan [ctest args...]   TSan in build-tsan
# Parley's own code, plugins and tests are instrumented (-DPARLEY_SANITIZE, cmake/ParleySanitize.cmake);
# the prebuilt llama.cpp and libtorch are not. Every report is fatal (halt_on_error); known
# reports from third-party frames are suppressed in scripts/sanitizers/<tool>.supp, each with its
# reason. Figures of the clean runs and what is excluded: scripts/sanitizers/README.md.
#
# Environment: PARLEY_JOBS (default 2), PARLEY_TEST_JOBS (default 2); setup.sh's variables apply
# (PARLEY_BUILD_TARGETS="test_core parley ..." builds a subset: then choose its tests with -R/-L).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUPP="$REPO/scripts/sanitizers"
mode="${1:-}"; shift || true

# Tests excluded by label, with the reason (printed with the results).
case "$mode" in
  asan)
    sanitizers="address;undefined"
    exclude_labels=()
    ;;
  tsan)
    sanitizers="thread"
    # torch: libtorch (uninstrumented) runs Parley's code on its OpenMP threads, whose spin
    # barriers TSan cannot see: every such access is a false race. The trainer is not built.
    exclude_labels=(torch)
    export PARLEY_WITH_TORCH=OFF
    ;;
  *) echo "usage: $0 asan|tsan [ctest args...]" >&2; exit 2 ;;
esac
BUILD="${PARLEY_SANITIZE_BUILD:-$REPO/build-$mode}"

# Debug (asserts on), compiled at -O1 -g1 by cmake/ParleySanitize.cmake.
PARLEY_BUILD="$BUILD" PARLEY_BUILD_TYPE=Debug PARLEY_JOBS="${PARLEY_JOBS:-2}" \
PARLEY_CMAKE_ARGS="-DPARLEY_SANITIZE=$sanitizers" nice -n 10 "$REPO/scripts/setup.sh"

common="halt_on_error=1:print_suppressions=0"
export ASAN_OPTIONS="$common:detect_leaks=1:suppressions=$SUPP/asan.supp"
export LSAN_OPTIONS="print_suppressions=0:suppressions=$SUPP/lsan.supp"
export UBSAN_OPTIONS="$common:print_stacktrace=1:suppressions=$SUPP/ubsan.supp"
export TSAN_OPTIONS="$common:second_deadlock_stack=1:suppressions=$SUPP/tsan.supp"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

exclude=()
if ((${#exclude_labels[@]})); then
  regex="$(IFS='|'; echo "${exclude_labels[*]}")"
  exclude=(-LE "^($regex)\$")
  echo "[sanitize] excluded labels under $mode: ${exclude_labels[*]} (reasons: scripts/sanitize.sh, scripts/sanitizers/README.md)" >&2
fi
cd "$BUILD"
start=$SECONDS
set +e
ctest --output-on-failure --no-tests=error -j"${PARLEY_TEST_JOBS:-2}" "${exclude[@]}" "$@" 2>&1 | tee "$BUILD/ctest-$mode.log"
rc=${PIPESTATUS[0]}
set -e
echo "[sanitize] $mode: ctest exit $rc, $((SECONDS - start)) s wall" >&2
exit "$rc"
