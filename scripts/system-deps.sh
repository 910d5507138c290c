#!/usr/bin/env bash
# The Debian packages the builder needs: bubblewrap (the sandbox for generated tests) and
# util-linux's prlimit; with --tests also chromium, which the browser test drives through
# Playwright (no browser download). Installs only what is missing; uses sudo when not root.
set -euo pipefail
missing=()
if [ "${1:-}" = "--tests" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v prlimit >/dev/null 2>&1 || missing+=(util-linux)
command -v git >/dev/null 2>&1 || missing+=(git)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -q
$sudo apt-get install -y -q "${missing[@]}"
