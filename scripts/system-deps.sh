#!/usr/bin/env bash
# Install the Debian packages the tests use when they are missing: espeak-ng makes test
# speech and the IVR prompts, sox resamples them to 8 kHz, chromium runs the pages'
# browser tests (driven by Playwright through its executable path), docker-compose checks
# docker/compose.yaml without a Docker daemon. Quiet and idempotent: prints nothing
# when all are there. Installs only as root on a system with apt-get; otherwise says
# what is missing, and the tests that need it skip (or fail under CI=true).
set -u

packages=(espeak-ng sox chromium docker-compose)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: missing system packages: ${missing[*]} (install them as root with apt-get)"
  exit 0
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { echo "error: could not install ${missing[*]}"; exit 1; }
fi
