#!/usr/bin/env bash
# Installs the Debian packages FireMode needs, when any is missing.
# Idempotent and quiet when everything is there; uses sudo when not root.
set -euo pipefail
pkgs=(build-essential pkg-config clang libclang-rt-14-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev
      libpq-dev libssl-dev libcmocka-dev python3 python3-pytest postgresql-15 wrk)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
