#!/usr/bin/env bash
# System packages the tests need beyond Python: pgaudit for the system PostgreSQL 15, whose
# cluster (tests/pgaudit_cluster.py) writes a real csvlog. Installs with apt-get when running as
# root on a machine with apt and the package is not installed yet; a quiet no-op otherwise
# (the tests that need it then skip with the reason, or fail under CI=true).
set -euo pipefail
package=postgresql-15-pgaudit
[ "$(id -u)" -eq 0 ] || exit 0
command -v apt-get >/dev/null 2>&1 || exit 0
command -v dpkg-query >/dev/null 2>&1 || exit 0
if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    exit 0
fi
echo "test-deps: installing $package"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "$package" >/dev/null 2>&1; then
    # a fresh machine's package lists may be empty or stale
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "$package" >/dev/null
fi
