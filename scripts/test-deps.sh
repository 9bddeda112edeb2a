#!/usr/bin/env bash
# System packages the test suite needs beyond the Python ones: Debian's chromium and a CJK font for
# the real-browser test of the dashboard. Installed only when missing, and only where we may (root).
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: missing ${need[*]} and cannot install them here; the browser test will be skipped" >&2
  exit 0
fi
echo "test-deps: installing ${need[*]} (Debian packages) for the browser test"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
  || echo "test-deps: apt-get failed; the browser test will be skipped" >&2
exit 0
