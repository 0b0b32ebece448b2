#!/usr/bin/env bash
# instructions.sh DB_URL PATH [N] [BIN]: the server's user-space instructions per request, counted
# by valgrind's callgrind: N requests (default 500) of GET PATH, one after the other on one
# keep-alive connection, as the bootstrap admin, after 200 that warm the caches and are not
# counted.  Unlike req/s or CPU time on a shared machine, the count is the same from run to run
# (within ~0.2 %), so it tells whether a change to the request path made it cheaper; it leaves out
# the kernel and does not see cache misses, so confirm a gain side by side (make bench, or two
# servers under wrk).  Needs the Debian package valgrind (not installed by make).
#
#   scripts/instructions.sh sqlite:/tmp/bench.db /users
#   scripts/instructions.sh postgresql://127.0.0.1:5432/fm '/users?sort=email' 1000
#
# The database must already hold the bootstrap admin of FIREMODE_ADMIN_TOKEN (default here
# bench-admin-token), e.g. a database made by `firemode seed` or served once with that token.
set -euo pipefail
db=${1:?usage: instructions.sh DB_URL PATH [N] [BIN]}
path=${2:?usage: instructions.sh DB_URL PATH [N] [BIN]}
n=${3:-500}
bin=${4:-build/firemode}
token=${FIREMODE_ADMIN_TOKEN:-bench-admin-token}
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
FIREMODE_ADMIN_TOKEN=$token valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" \
    "$bin" serve --db "$db" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
client() { # COUNT: GET path COUNT times on one connection; every answer must be a 200
    /usr/bin/python3 - "$port" "$path" "$1" "$token" <<'EOF'
import http.client, sys
port, path, n, token = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
for _ in range(n):
    c.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"instructions.sh: {path} answered {r.status}: {body[:300]!r}")
EOF
}
for _ in $(seq 300); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.2
done
client 200
callgrind_control -z "$pid" >/dev/null 2>&1
client "$n"
callgrind_control -d "$pid" >/dev/null 2>&1
dump=$(ls "$work"/cg.*.1)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "$path: $((total / n)) instructions per request (user space, $n requests)"
# KEEP=FILE keeps the profile: callgrind_annotate FILE says where the instructions went
if [ -n "${KEEP:-}" ]; then cp "$dump" "$KEEP"; echo "profile kept in $KEEP"; fi
