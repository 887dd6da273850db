#!/usr/bin/env bash
# Install Debian packages the project needs beyond Python, given as arguments: build headers
# for a driver pip compiles (bootstrap) or a server feature the tests use (make test). Uses
# apt-get when running as root on a machine with apt and a package is missing; a quiet no-op
# otherwise (a build then fails with pip's reason; tests that need a package skip with theirs,
# or fail under CI=true).
set -euo pipefail
[ "$#" -gt 0 ] || exit 0
[ "$(id -u)" -eq 0 ] || exit 0
command -v apt-get >/dev/null 2>&1 || exit 0
command -v dpkg-query >/dev/null 2>&1 || exit 0
missing=()
for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$package")
done
[ "${#missing[@]}" -gt 0 ] || exit 0
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    # a fresh machine's package lists may be empty or stale
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
