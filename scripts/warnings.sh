#!/usr/bin/env bash
# Compiler warnings in a build from scratch: configures and builds Parley in a fresh folder (as
# scripts/setup.sh does, same options), then counts the warnings by file and prints each with the
# object it came from. Exits 1 when there is any. With ccache, cached objects replay their warnings,
# so a second run is quick and still complete.
#
#   scripts/warnings.sh                          gcc, into build-warn
#   CC=clang CXX=clang++ scripts/warnings.sh     clang, into build-warn-clang
#
# Environment: PARLEY_BUILD (default build-warn[-clang]), PARLEY_JOBS (default 2), and every
# scripts/setup.sh knob (PARLEY_WITH_TORCH, PARLEY_DEPS, ...). The log is <build>/warnings.log.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
suffix=""; [[ "${CXX:-}" == *clang* ]] && suffix="-clang"
BUILD="${PARLEY_BUILD:-$REPO/build-warn$suffix}"
rm -rf "$BUILD"
mkdir -p "$BUILD"
log="$BUILD/warnings.log"
set +e
PARLEY_BUILD="$BUILD" PARLEY_JOBS="${PARLEY_JOBS:-2}" nice -n 10 "$REPO/scripts/setup.sh" >"$log" 2>&1
rc=$?
set -e
compiler="$(grep -E '^CMAKE_CXX_COMPILER:' "$BUILD/CMakeCache.txt" | cut -d= -f2)"
echo "[warnings] $("$compiler" --version | head -n1), $(grep -c '^\[[0-9]*/[0-9]*\] Building' "$log") objects built; log: $log"
# Ninja prints "[n/N] Building ... <object>" before what the compiler said about that object.
awk '/^\[[0-9]+\/[0-9]+\] Building/ { object = $NF }
     / warning: / { print object "\t" $0 }' "$log" >"$BUILD/warnings.tsv"
count=$(wc -l <"$BUILD/warnings.tsv")
if ((count > 0)); then
  echo "[warnings] $count warnings, by file:"
  cut -f2 "$BUILD/warnings.tsv" | sed -E 's/^([^:]+):.*\[(-W[^]]+)\]$/\1 \2/' | sort | uniq -c | sort -rn
  echo "[warnings] each, with its object:"
  cat "$BUILD/warnings.tsv"
fi
((rc == 0)) || { echo "[warnings] the build failed (rc $rc): see $log" >&2; exit "$rc"; }
((count == 0)) || exit 1
echo "[warnings] 0 warnings"
