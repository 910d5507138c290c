#!/usr/bin/env bash
# The Debian packages the builder needs, installed only where missing:
#   bubblewrap   `bwrap`, the sandbox generated tests run in;
#   util-linux   `prlimit`, the CPU, memory, file and process bounds on that sandbox;
#   git          the target repository and its branches;
#   python3-venv `python3 -m venv` with pip: the project's virtualenv .venv (the set-up
#                installs there, since Debian and Ubuntu refuse a plain `pip install`,
#                PEP 668) and the target's own test environment;
# and with --tests also
#   chromium     the browser the service's browser test drives through Playwright (no
#                browser download).
# It uses sudo when not root. apt-get fetches every package before it unpacks any, so a
# failed fetch leaves nothing half-installed; anything still missing afterwards fails here,
# with the packages and why, instead of later in a build or a test.
set -euo pipefail

declare -A why=(
  [bubblewrap]="bwrap, the sandbox generated tests run in"
  [util-linux]="prlimit, the bounds on that sandbox"
  [git]="git, the target repository"
  [python3-venv]="python3 -m venv with pip, for .venv and the target's test environment"
  [chromium]="chromium, for the browser test (--tests)"
)

has_venv() { command -v python3 >/dev/null 2>&1 && python3 -c 'import ensurepip, venv' 2>/dev/null; }

missing_packages() {
  local missing=()
  if [ "${1:-}" = "--tests" ]; then
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  fi
  command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
  command -v prlimit >/dev/null 2>&1 || missing+=(util-linux)
  command -v git >/dev/null 2>&1 || missing+=(git)
  has_venv || missing+=(python3-venv)
  echo "${missing[@]}"
}

fail() {
  echo "system-deps.sh: $1" >&2
  for package in $2; do echo "  $package: ${why[$package]}" >&2; done
  echo "Install them (apt-get install $2) and run this again." >&2
  exit 1
}

read -r -a missing <<<"$(missing_packages "${1:-}")"
[ ${#missing[@]} -eq 0 ] && exit 0

echo "system-deps.sh: installing ${missing[*]}:" >&2
for package in "${missing[@]}"; do echo "  $package: ${why[$package]}" >&2; done
command -v apt-get >/dev/null 2>&1 || fail "no apt-get here (not Debian or Ubuntu); missing:" "${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and no sudo; missing:" "${missing[*]}"
  sudo="sudo"
fi
$sudo apt-get update -q || fail "apt-get update failed (no network?); nothing was installed:" "${missing[*]}"
$sudo apt-get install -y -q "${missing[@]}" ||
  fail "apt-get install failed; missing:" "$(missing_packages "${1:-}")"

read -r -a still <<<"$(missing_packages "${1:-}")"
if [ ${#still[@]} -ne 0 ]; then
  hint=""
  # python3-venv installed, but `python3` is another interpreter (pyenv, a build of its own).
  [[ " ${still[*]} " == *" python3-venv "* ]] && hint=" (\`python3\` is $(command -v python3 || echo missing): is it Debian's?)"
  fail "still missing after apt-get$hint:" "${still[*]}"
fi
echo "system-deps.sh: installed ${missing[*]}" >&2
