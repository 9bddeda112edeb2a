#!/usr/bin/env bash
# System packages the test suite needs beyond the Python ones: Debian's chromium and a CJK font for
# the real-browser test of the dashboard, PostgreSQL 15 + PostGIS 3 for the PostGIS store's tests
# (tests/conftest.py starts a throw-away server with scripts/postgis.sh). Installed only when
# missing, and only where we may (root).
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
[ -x /usr/lib/postgresql/15/bin/pg_ctl ] || need+=(postgresql-15)
[ -f /usr/share/postgresql/15/extension/postgis.control ] || need+=(postgresql-15-postgis-3)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: missing ${need[*]} and cannot install them here; the browser and PostGIS tests will be skipped" >&2
  exit 0
fi
echo "test-deps: installing ${need[*]} (Debian packages) for the browser and PostGIS tests"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
  || echo "test-deps: apt-get failed; the browser test will be skipped" >&2
exit 0
