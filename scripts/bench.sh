#!/usr/bin/env bash
# make bench: the same seeded data on SQLite and on a private PostgreSQL,
# one server each, wrk against a few list requests.  Read "Requests/sec".
# Then creates on a DURABLE private PostgreSQL (fsync, synchronous_commit and
# full_page_writes on) at 1, 4, 16 and 64 connections, next to pgbench doing
# a plain one-row INSERT on the same cluster: read FireMode's req/s against
# the database's own tx/s at the same number of clients.
#
#   BENCH_SECONDS=10            length of each line
#   BENCH_DOCUMENTS=100000      documents seeded (10 workspaces)
#   BENCH_ONLY=sqlite,postgresql,durable   the parts to run (default: all)
#   BENCH_DURABLE_THREADS=64    --threads of the server for the durable creates
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BIN=${FIREMODE_BIN:-build/firemode}
DOCS=${BENCH_DOCUMENTS:-100000}
DUR=${BENCH_SECONDS:-10}
ONLY=${BENCH_ONLY:-sqlite,postgresql,durable}
DTHREADS=${BENCH_DURABLE_THREADS:-64}
PGBIN=${FIREMODE_PG_BIN:-/usr/lib/postgresql/15/bin}
TOKEN=bench-token-$$
tmp=$(mktemp -d)
server_pid=
kill_server() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; fi; true; }
cleanup() { kill_server; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }

seed() { # seed DB_URL
  "$BIN" seed --db "$1" --seed 1 --users 1000 --workspaces 10 --documents "$DOCS" --jobs 20000 --configs 500 \
    --sessions 1000 >/dev/null 2>"$tmp/seed.log"
  tail -1 "$tmp/seed.log"
}

start_server() { # start_server DB_URL THREADS; sets port, server_pid, ws (the first workspace by name)
  port=$(free_port)
  FIREMODE_ADMIN_TOKEN=$TOKEN "$BIN" serve --db "$1" --listen "127.0.0.1:$port" --threads "$2" 2>"$tmp/server.log" &
  server_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  ws=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/workspaces?sort=name&page_size=1" |
       /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["workspace_id"])')
}

stop_server() {
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
  # any answer other than 200 is reported (and means the numbers above are not comparable)
  awk '$1 ~ /^(GET|HEAD|POST)$/ && $3 != 200 && $3 != 201 {n[$3]++} END {for (s in n) printf "  %s answers with status %s\n", n[s], s}' "$tmp/server.log"
  grep -v '^\(GET\|HEAD\|POST\) ' "$tmp/server.log" | grep -v 'serving on\|SIGTERM\|stopped' | sort | uniq -c | head -5 || true
}

# wrk's output as one line: req/s, average latency (and p99 with --latency), non-2xx answers
wrk_line() {
  awk '/Requests\/sec/ {rps=$2} /Latency/ && !lat {lat=$2} /^ +99%/ {p99=$2} /Non-2xx/ {err=$NF}
       END {printf "%10s req/s  avg latency %s%s%s\n", rps, lat, (p99 ? "  p99 " p99 : ""), (err ? "  NON-2xx: " err : "")}'
}

post_lua() { # the create body, the same for every create line
  cat > "$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"original_filename":"bench.pdf","byte_size":1234,"tags":["bench","load"]}'
LUA
}

bench_db() { # bench_db LABEL DB_URL
  local label=$1 db=$2 port ws last
  seed "$db"
  start_server "$db" 4
  # the deepest page that still has items: OFFSET cost within one workspace (~10k documents);
  # page=4000 (OFFSET 99975) is past its end unless BENCH_DOCUMENTS is about 1M
  last=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/workspaces/$ws/documents?include_total=true&page_size=1" |
         /usr/bin/python3 -c 'import json,sys; print(max(1, (json.load(sys.stdin)["total"] + 24) // 25))')
  for path in "/workspaces/$ws/documents" \
              "/workspaces/$ws/documents?sort=-last_run_at&status_in=processed,failed&page_size=50" \
              "/workspaces/$ws/documents?page=100&include_total=true" \
              "/workspaces/$ws/jobs?status_in=succeeded&sort=-started_at" \
              "/workspaces/$ws/documents?page=4000&page_size=25" \
              "/workspaces/$ws/documents?page=$last&page_size=25"; do
    printf '%-11s %-75s ' "$label" "$path"
    wrk -t2 -c32 -d"${DUR}s" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port$path" | wrk_line
  done
  # writes: creates of documents (each a durable commit on SQLite; on this PostgreSQL fsync is off)
  post_lua
  printf '%-11s %-75s ' "$label" "POST /workspaces/$ws/documents"
  wrk -t2 -c16 -d"${DUR}s" -s "$tmp/post.lua" "http://127.0.0.1:$port/workspaces/$ws/documents" | wrk_line
  stop_server
}

# What the durable cluster's backends of database firemode are doing while a line runs, sampled
# every 0.5 s after a 2 s warm-up: the mean number in a transaction and per wait event.
# "Lock:transactionid(firemode_counters)" is a writer queued on another's row lock, here the
# write_seq counter row (in parentheses: the table its waiting statement writes);
# "IO:WALSync"/"LWLock:WALWrite" is a commit waiting for (or queued behind) the WAL flush.
sample_waits() { # sample_waits SECONDS > report
  sleep 2
  local n=0 end=$((SECONDS + $1 - 3))
  : > "$tmp/waits"
  while [ "$SECONDS" -lt "$end" ]; do
    "$PGBIN/psql" -X -At "$PGURL" -c "SELECT coalesce(wait_event_type || ':' || wait_event, 'running')
      || CASE WHEN wait_event_type = 'Lock' THEN '(' || coalesce(substring(query FROM '(?:UPDATE|INTO|FROM)\s+(\w+)'), '?') || ')' ELSE '' END
      FROM pg_stat_activity
      WHERE datname = 'firemode' AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')" >> "$tmp/waits" || true
    n=$((n + 1))
    sleep 0.5
  done
  sort "$tmp/waits" | uniq -c | sort -rn |
    awk -v n="$n" '{t += $1; s = s sprintf(", %.1f %s", $1 / n, $2)} END {printf "  backends (mean of %d samples): %.1f busy%s\n", n, t / n, s}'
}

bench_durable() { # bench_durable DB_URL; the cluster has fsync, synchronous_commit, full_page_writes on
  local db=$1 port ws c t threads user
  PGURL=$db
  seed "$db"
  echo "durable-pg: $("$PGBIN/psql" -X -At "$db" -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
        WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')")"
  # for scale: what one flush costs on this disk (a commit waits for at least one)
  echo "durable-pg: fdatasync of 8 kB on the cluster's disk: $(/usr/bin/python3 -c 'import os,sys,time
fd = os.open(os.path.join(sys.argv[1], "fsync.probe"), os.O_WRONLY | os.O_CREAT, 0o600); n = 0; t = time.monotonic()
while time.monotonic() - t < 1: os.pwrite(fd, b"x" * 8192, 0); os.fdatasync(fd); n += 1
print("%.0f us" % (1e6 / n)); os.unlink(os.path.join(sys.argv[1], "fsync.probe"))' "$FIREMODE_TEST_PG_DIR")"
  # pgbench's table: the documents table's columns, checks and indexes (no foreign keys), as full
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$db" -c "CREATE TABLE bench_documents (LIKE documents INCLUDING ALL);
    INSERT INTO bench_documents SELECT * FROM documents; CREATE SEQUENCE bench_seq" -c "VACUUM ANALYZE" -c "CHECKPOINT"
  post_lua
  # Each worker thread serves its connections one request at a time on its one database
  # connection, so --threads caps the transactions in flight: with --threads 4, -c16 and -c64 are
  # still 4 concurrent creates.  The lines run with --threads $DTHREADS (at least the clients);
  # the last FireMode line repeats -c64 with --threads 4, the server's default.
  for threads in "$DTHREADS" 4; do
    start_server "$db" "$threads"
    for c in 1 4 16 64; do
      [ "$threads" = 4 ] && [ "$c" != 64 ] && continue
      t=2; [ "$c" = 1 ] && t=1
      sample_waits "$DUR" > "$tmp/waits.report" &
      printf '%-11s %-75s ' durable-pg "POST /workspaces/{ws}/documents -c$c (--threads $threads)"
      wrk -t$t -c"$c" -d"${DUR}s" --latency -s "$tmp/post.lua" "http://127.0.0.1:$port/workspaces/$ws/documents" | wrk_line
      wait $!; cat "$tmp/waits.report"
    done
    user=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/me" |
           /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["user_id"])')
    stop_server
  done
  # the database alone: one INSERT of a documents-shaped row per transaction (no tags, no counter)
  cat > "$tmp/insert.sql" <<'SQL'
INSERT INTO bench_documents (document_id, workspace_id, original_filename, byte_size, status, source,
  uploaded_by_user_id, tags, created_at, vclock, seq)
VALUES (gen_random_uuid()::text, :ws, 'bench.pdf', 1234, 'uploaded', 'api', :user, '["bench","load"]',
  (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, '{"bench":1}', nextval('bench_seq'));
SQL
  for c in 1 4 16 64; do
    t=2; [ "$c" = 1 ] && t=1
    sample_waits "$DUR" > "$tmp/waits.report" &
    printf '%-11s %-75s ' durable-pg "pgbench INSERT one documents row -c$c (-M prepared)"
    "$PGBIN/pgbench" -n -M prepared -f "$tmp/insert.sql" -D ws="$ws" -D user="$user" -c "$c" -j "$t" -T "$DUR" "$db" 2>&1 |
      awk '/^tps/ {tps=$3} /^latency average/ {lat=$4 $5} /number of failed transactions/ && $5 > 0 {err=$5}
           END {printf "%10.1f tx/s   avg latency %s%s\n", tps, lat, (err ? "  FAILED: " err : "")}'
    wait $!; cat "$tmp/waits.report"
  done
}

if want sqlite; then bench_db sqlite "sqlite:$tmp/bench.db"; fi
# the PostgreSQL parts run under scripts/with-postgres.sh, in a shell of their own that stops its server
funcs=$(declare -f kill_server seed start_server stop_server wrk_line post_lua bench_db sample_waits bench_durable free_port)
vars="BIN=$BIN DOCS=$DOCS DUR=$DUR TOKEN=$TOKEN tmp=$tmp PGBIN=$PGBIN DTHREADS=$DTHREADS server_pid=; trap kill_server EXIT; trap 'exit 143' TERM"
if want postgresql; then
  "$root/scripts/with-postgres.sh" bash -c "$funcs; $vars; bench_db postgresql \"\$FIREMODE_TEST_PG\""
fi
if want durable; then
  FIREMODE_PG_DURABLE=1 "$root/scripts/with-postgres.sh" bash -c "$funcs; $vars; bench_durable \"\$FIREMODE_TEST_PG\""
fi
