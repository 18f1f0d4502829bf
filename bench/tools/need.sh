# bench/tools/need.sh — sourced by every bench/*/run.sh: what a benchmark needs on a fresh machine,
# installed or built when missing, so each recorded command runs as written.
#
#   need_python MODULE PACKAGE   /usr/bin/python3 imports MODULE, else the Debian PACKAGE is installed
#   need_packages PACKAGE...     Debian packages (scripts/lib/apt.sh)
#   need_build TARGET...         the Parley build in $BUILD (scripts/setup.sh sets it up, and llama.cpp
#                                with its tools, when either is missing), then only these targets
#   need_torch_build             $BUILD has the libtorch trainer (PARLEY_WITH_TORCH=ON, setup.sh's default)
#   need_llama                   sets LLAMA: the llama.cpp folder scripts/setup.sh built (prefix/, src/, tools/bin/)
#
# The caller sets REPO (the checkout) and BUILD (default: $PARLEY_BUILD or <repo>/build).
source "$REPO/scripts/lib/apt.sh"
BUILD="${BUILD:-${PARLEY_BUILD:-$REPO/build}}"

need_packages() { apt_install "$@"; }

need_python() {
  /usr/bin/python3 -c "import $1" 2>/dev/null || apt_install "$2"
  /usr/bin/python3 -c "import $1" || { echo "need.sh: python3 cannot import $1 after installing $2" >&2; return 1; }
}

# The llama.cpp folder of this machine (setup.sh keys it by version and CPU flags); empty if none.
_llama_dir() {
  local ok
  ok=$(ls -d "${PARLEY_DEPS:-$HOME/.cache/parley}"/llama.cpp-*/tools/.parley-ok 2>/dev/null | head -n1)
  [[ -n "$ok" ]] && dirname "$(dirname "$ok")"
}

need_build() {
  if [[ ! -f "$BUILD/CMakeCache.txt" ]] || [[ -z "$(_llama_dir)" ]]; then
    echo "need.sh: setting up the build in $BUILD (scripts/setup.sh)" >&2
    PARLEY_BUILD="$BUILD" PARLEY_JOBS="${PARLEY_JOBS:-2}" "$REPO/scripts/setup.sh"
  fi
  (($#)) && cmake --build "$BUILD" -j"${PARLEY_JOBS:-2}" --target "$@" >&2
  return 0
}

need_torch_build() {
  need_build
  grep -q "PARLEY_WITH_TORCH:BOOL=ON" "$BUILD/CMakeCache.txt" ||
    { echo "need.sh: $BUILD was configured with PARLEY_WITH_TORCH=OFF; this needs the trainer: run scripts/setup.sh (default ON)" >&2; return 1; }
}

need_llama() {
  LLAMA="${PARLEY_LLAMA_DIR:-$(_llama_dir)}"
  if [[ -z "$LLAMA" ]]; then
    need_build
    LLAMA="$(_llama_dir)"
  fi
}
