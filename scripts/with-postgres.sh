#!/usr/bin/env bash
# Runs a command against a private, throwaway PostgreSQL 15:
#
#   scripts/with-postgres.sh CMD [ARGS...]
#
# starts a fresh cluster (tests/lib/pg.sh), runs CMD with FIREMODE_TEST_PG,
# FIREMODE_TEST_PG_DATA and FIREMODE_TEST_PG_CTL exported, then stops the
# cluster and removes it whatever happened, and exits with CMD's status
# (130/143 if interrupted).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib/pg.sh
. "$root/tests/lib/pg.sh"

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

child=
# shellcheck disable=SC2317  # invoked from the traps below
on_signal() {
  trap - INT TERM
  # CMD runs in the background (so that this shell can react at once), where
  # SIGINT is ignored: forward a TERM instead.
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  exit "$1"
}
trap pg_stop EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

pg_start
rc=0
"$@" <&0 &
child=$!
wait "$child" || rc=$?
child=
exit "$rc"
