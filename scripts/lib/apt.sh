# scripts/lib/apt.sh — sourced: installs Debian packages that are missing, the one place that knows
# how (scripts/setup.sh for the build, bench/tools/need.sh for the benchmarks).
#   apt_install PKG...   installs those of PKG not installed yet (apt-get, with sudo unless root)

apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  printf '\033[1;34m[apt]\033[0m installing Debian packages: %s\n' "${missing[*]}" >&2
  local sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
