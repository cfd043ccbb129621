#!/usr/bin/env bash
# Idempotent: the system packages the export tests use (headless Chromium to open the reading
# copy, poppler's pdftotext, fonts with the scripts and emoji platforms carry). Installs from
# Debian's archive only when something is missing; never downloads a browser build.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
fc-list 2>/dev/null | grep -q "Noto Color Emoji" || need+=(fonts-noto-color-emoji)
fc-list 2>/dev/null | grep -q "NotoSansArabic" || need+=(fonts-noto-core)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "test-setup: missing ${need[*]}; install them (Debian: apt-get install ${need[*]})" >&2
  exit 0  # the tests that need them skip and say why
fi
echo "test-setup: installing ${need[*]} from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
