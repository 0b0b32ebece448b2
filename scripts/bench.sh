#!/usr/bin/env bash
# make bench: the same seeded data on SQLite and on a private PostgreSQL,
# one server each, wrk against a few list requests.  Read "Requests/sec".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BIN=${FIREMODE_BIN:-build/firemode}
DOCS=${BENCH_DOCUMENTS:-100000}
DUR=${BENCH_SECONDS:-10}
TOKEN=bench-token-$$
tmp=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

bench_db() { # bench_db LABEL DB_URL
  local label=$1 db=$2 port
  port=$(free_port)
  "$BIN" seed --db "$db" --seed 1 --users 1000 --workspaces 10 --documents "$DOCS" --jobs 20000 --configs 500 \
    --sessions 1000 >/dev/null 2>"$tmp/seed.log"
  tail -1 "$tmp/seed.log"
  FIREMODE_ADMIN_TOKEN=$TOKEN "$BIN" serve --db "$db" --listen "127.0.0.1:$port" --threads 4 2>"$tmp/server.log" &
  server_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  local ws
  ws=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/workspaces?sort=name&page_size=1" |
       /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["workspace_id"])')
  for path in "/workspaces/$ws/documents" \
              "/workspaces/$ws/documents?sort=-last_run_at&status_in=processed,failed&page_size=50" \
              "/workspaces/$ws/documents?page=100&include_total=true" \
              "/workspaces/$ws/jobs?status_in=succeeded&sort=-started_at"; do
    printf '%-11s %-75s ' "$label" "$path"
    wrk -t2 -c32 -d"${DUR}s" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port$path" |
      awk '/Requests\/sec/ {rps=$2} /Latency/ {lat=$2} /Non-2xx/ {err=$NF} END {printf "%10s req/s  avg latency %s%s\n", rps, lat, (err ? "  NON-2xx: " err : "")}'
  done
  # writes: creates of documents (each a durable commit)
  cat > "$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"original_filename":"bench.pdf","byte_size":1234,"tags":["bench","load"]}'
LUA
  printf '%-11s %-75s ' "$label" "POST /workspaces/$ws/documents"
  wrk -t2 -c16 -d"${DUR}s" -s "$tmp/post.lua" "http://127.0.0.1:$port/workspaces/$ws/documents" |
    awk '/Requests\/sec/ {rps=$2} /Latency/ {lat=$2} /Non-2xx/ {err=$NF} END {printf "%10s req/s  avg latency %s%s\n", rps, lat, (err ? "  NON-2xx: " err : "")}'
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
  # any answer other than 200 is reported (and means the numbers above are not comparable)
  awk '$1 ~ /^(GET|HEAD|POST)$/ && $3 != 200 && $3 != 201 {n[$3]++} END {for (s in n) printf "  %s answers with status %s\n", n[s], s}' "$tmp/server.log"
  grep -v '^\(GET\|HEAD\|POST\) ' "$tmp/server.log" | grep -v 'serving on\|SIGTERM\|stopped' | sort | uniq -c | head -5 || true
}

bench_db sqlite "sqlite:$tmp/bench.db"
"$root/scripts/with-postgres.sh" bash -c "$(declare -f bench_db free_port); BIN=$BIN DOCS=$DOCS DUR=$DUR TOKEN=$TOKEN tmp=$tmp server_pid=; bench_db postgresql \"\$FIREMODE_TEST_PG\""
