#!/usr/bin/env bash
# Parley set-up: installs what a fresh Debian 12 machine lacks, builds the pinned llama.cpp once
# into a per-machine cache, then configures and builds Parley. Every step is skipped when its
# result is already there, so a second run takes seconds.
#
# Environment:
#   PARLEY_DEPS       cache for third-party builds   (default: ~/.cache/parley)
#   PARLEY_BUILD      Parley's build directory       (default: <repo>/build)
#   PARLEY_BUILD_TYPE CMake build type               (default: Release)
#   PARLEY_WITH_TORCH ON/OFF: the libtorch trainer   (default: ON; OFF skips libtorch, ~670 MB of packages)
#   PARLEY_JOBS       parallel build jobs            (default: nproc)
#   PARLEY_CMAKE_ARGS more -D options for Parley's configure, applied at every run (scripts/sanitize.sh)
#   PARLEY_BUILD_TARGETS build only these targets    (default: all)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="${PARLEY_DEPS:-$HOME/.cache/parley}"
BUILD="${PARLEY_BUILD:-$REPO/build}"
BUILD_TYPE="${PARLEY_BUILD_TYPE:-Release}"
WITH_TORCH="${PARLEY_WITH_TORCH:-ON}"
JOBS="${PARLEY_JOBS:-$(nproc)}"

NODE_LLAMA_CPP_VERSION=3.22.1        # bundles llama.cpp v0.5.0 (commit de3ff81)
LLAMA_COMMIT=de3ff815ea7d559ee917f063901b8986f038abc6

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

# --- 1. Debian packages --------------------------------------------------------------------------
APT_PACKAGES=(build-essential cmake ninja-build ccache git pkg-config
  libboost-dev libboost-filesystem-dev libtomlplusplus-dev libspdlog-dev libfmt-dev
  catch2 nlohmann-json3-dev libcurl4-openssl-dev libopenblas0-pthread libjemalloc-dev
  libgrpc++-dev protobuf-compiler-grpc  # parley serve's gRPC (Matrix's OpenaiService) and the grpc backend
  python3 python3-jinja2 python3-grpcio python3-aiohttp
  zlib1g-dev  # parley report: gzip-compressed conversation chunks
  libssl-dev  # SHA-256 keys of the request cache (core/src/cache)
  chromium)   # tests/browser: parley report opened in a real (headless) browser by playwright-core
# python3: tests/servers/vllm_strict.py (the strict vLLM-shaped test server); python3-jinja2:
# tests/tools/hf_chat_template.py (the reference chat-template renderer); grpcio and aiohttp: the
# gRPC client with Matrix's names and the Coral-style client in parley serve's tests and bench.
if [[ "$WITH_TORCH" == ON ]]; then APT_PACKAGES+=(libtorch-dev); fi
# node/npm may come from elsewhere (NodeSource ships npm inside nodejs): only ask apt when absent.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

source "$REPO/scripts/lib/apt.sh"
apt_install "${APT_PACKAGES[@]}"

# --- 2. llama.cpp from the npm package's bundled source ---------------------------------------------
# Keyed by version and CPU flags: the build uses -march=native, so a cache must not move between
# machine kinds.
llama_cuda=()
# CUDA when asked (PARLEY_LLAMA_CUDA=ON) or, by default, when both nvcc and a visible GPU exist.
has_gpu() { command -v nvcc >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; }
if [[ "${PARLEY_LLAMA_CUDA:-auto}" == ON ]] || { [[ "${PARLEY_LLAMA_CUDA:-auto}" == auto ]] && has_gpu; }; then
  llama_cuda=(-DGGML_CUDA=ON); PARLEY_LLAMA_SUFFIX="${PARLEY_LLAMA_SUFFIX:-}-cuda"
fi
cpu_key="$(grep -m1 '^flags' /proc/cpuinfo | md5sum | cut -c1-8)"
LLAMA_ROOT="$DEPS/llama.cpp-$NODE_LLAMA_CPP_VERSION-$(uname -m)-$cpu_key${PARLEY_LLAMA_SUFFIX:-}"
LLAMA_SRC="$LLAMA_ROOT/src"
LLAMA_PREFIX="$LLAMA_ROOT/prefix"
LLAMA_TOOLS="$LLAMA_ROOT/tools"
mkdir -p "$LLAMA_ROOT"
launcher=(); command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
llama_common=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_APP=OFF -G Ninja "${launcher[@]}" "${llama_cuda[@]}")

if [[ ! -f "$LLAMA_SRC/.parley-ok" ]]; then
  say "fetching llama.cpp from npm node-llama-cpp@$NODE_LLAMA_CPP_VERSION"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" >/dev/null \
     && tar xzf "node-llama-cpp-$NODE_LLAMA_CPP_VERSION.tgz" package/llama/gitRelease.bundle) \
     || die "npm pack node-llama-cpp@$NODE_LLAMA_CPP_VERSION failed (is the npm registry reachable?)"
  rm -rf "$LLAMA_SRC"
  git -c advice.detachedHead=false clone -q "$tmp/package/llama/gitRelease.bundle" "$LLAMA_SRC"
  [[ "$(git -C "$LLAMA_SRC" rev-parse HEAD)" == "$LLAMA_COMMIT" ]] || die "unexpected llama.cpp commit in the bundle"
  rm -rf "$tmp"
  touch "$LLAMA_SRC/.parley-ok"
fi

if [[ ! -f "$LLAMA_PREFIX/.parley-ok" ]]; then
  say "building libllama into $LLAMA_PREFIX (once per machine, ~1.5 min on 2 cores)"
  cmake -S "$LLAMA_SRC" -B "$LLAMA_ROOT/build-lib" "${llama_common[@]}" \
    -DLLAMA_BUILD_COMMON=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DCMAKE_INSTALL_PREFIX="$LLAMA_PREFIX" -DCMAKE_INSTALL_RPATH='$ORIGIN' >/dev/null
  cmake --build "$LLAMA_ROOT/build-lib" -j"$JOBS" >/dev/null
  cmake --install "$LLAMA_ROOT/build-lib" >/dev/null
  touch "$LLAMA_PREFIX/.parley-ok"
fi

# llama-server (real OpenAI-compatible server for integration tests) and llama-batched-bench
# (throughput ceiling for benchmarks), from the same source.
if [[ ! -f "$LLAMA_TOOLS/.parley-ok" ]]; then
  say "building llama-server and llama-batched-bench (once per machine, ~4 min on 2 cores)"
  cmake -S "$LLAMA_SRC" -B "$LLAMA_ROOT/build-tools" "${llama_common[@]}" -DLLAMA_BUILD_SERVER=ON >/dev/null
  cmake --build "$LLAMA_ROOT/build-tools" -j"$JOBS" --target llama-server llama-batched-bench llama-bench >/dev/null
  mkdir -p "$LLAMA_TOOLS"
  ln -sfn "$LLAMA_ROOT/build-tools/bin" "$LLAMA_TOOLS/bin"
  touch "$LLAMA_TOOLS/.parley-ok"
fi

# --- 3. Parley ---------------------------------------------------------------------------------------
read -ra extra_cmake_args <<<"${PARLEY_CMAKE_ARGS:-}"
if [[ ! -f "$BUILD/CMakeCache.txt" ]] || ! grep -q "PARLEY_WITH_TORCH:BOOL=$WITH_TORCH" "$BUILD/CMakeCache.txt" \
   || ((${#extra_cmake_args[@]})); then
  say "configuring Parley in $BUILD"
  cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "${launcher[@]}" \
    -DCMAKE_PREFIX_PATH="$LLAMA_PREFIX" -DPARLEY_LLAMA_TOOLS_DIR="$LLAMA_TOOLS/bin" -DPARLEY_LLAMA_SOURCE_DIR="$LLAMA_SRC" \
    -DPARLEY_WITH_TORCH="$WITH_TORCH" "${extra_cmake_args[@]}" >/dev/null
fi
say "building Parley"
read -ra build_targets <<<"${PARLEY_BUILD_TARGETS:-}"
cmake --build "$BUILD" -j"$JOBS" ${build_targets[@]:+--target "${build_targets[@]}"}
