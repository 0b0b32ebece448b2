#!/usr/bin/env bash
# Installs the Debian packages FireMode needs, when any is missing.
#   scripts/install-deps.sh          what building and serving need (make, make run)
#   scripts/install-deps.sh test     also what the tests and benchmarks need
# Idempotent and quiet when everything is there; uses sudo when not root.
set -euo pipefail
pkgs=(build-essential pkg-config zlib1g-dev libjansson-dev libsqlite3-dev libpq-dev libssl-dev curl)
if [ "${1:-}" = test ]; then
  pkgs+=(clang libclang-rt-14-dev libcmocka-dev python3 python3-pytest python3-hypothesis python3-jsonschema postgresql-15
         postgresql-client-15 wrk chromium chromium-driver python3-selenium)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm (Swagger UI's files, the OpenAPI validator): Debian's, unless
# some other Node.js with npm is installed already.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
