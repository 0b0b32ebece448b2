#!/usr/bin/env bash
# make bench: the same seeded data on SQLite and on a private PostgreSQL,
# one server each, wrk against a few list requests.  Read "Requests/sec".
# Then creates on a DURABLE private PostgreSQL (fsync, synchronous_commit and
# full_page_writes on) at 1, 4, 16 and 64 connections, next to pgbench doing
# a plain one-row INSERT on the same cluster: read FireMode's req/s against
# the database's own tx/s at the same number of clients.
# The cursor part (issue 6), on SQLite and on PostgreSQL, on a dataset of its own (2 workspaces,
# ~120k documents each): page 1, a cursor page 100,000 rows deep and ?page=4000 (OFFSET 99,975)
# side by side, with their ratios to page 1; on PostgreSQL also pgbench running the same
# statements (the database alone).
#
#   BENCH_SECONDS=10            length of each line
#   BENCH_DOCUMENTS=100000      documents seeded (10 workspaces)
#   BENCH_CURSOR_DOCUMENTS=240000  documents of the cursor part's dataset (2 workspaces)
#   BENCH_ONLY=sqlite,postgresql,cursor,durable   the parts to run (default: all)
#   BENCH_DURABLE_THREADS=64    --threads of the server for the durable creates
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BIN=${FIREMODE_BIN:-build/firemode}
DOCS=${BENCH_DOCUMENTS:-100000}
DUR=${BENCH_SECONDS:-10}
DEEP=${BENCH_CURSOR_DOCUMENTS:-240000}
ONLY=${BENCH_ONLY:-sqlite,postgresql,cursor,durable}
DTHREADS=${BENCH_DURABLE_THREADS:-64}
PGBIN=${FIREMODE_PG_BIN:-/usr/lib/postgresql/15/bin}
TOKEN=bench-token-$$
tmp=$(mktemp -d)
server_pid=
kill_server() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; fi; true; }
cleanup() { kill_server; rm -rf "$tmp"; }
trap cleanup EXIT

# What used the 2 (or N) cores over a window: cpu_window SECONDS SERVER_PID [POSTMASTER_PID] > FILE
# measures the cores used by the server, by the cluster's postgres processes, by wrk/pgbench, and by
# everything else on the machine ("other": on a shared machine, work that is not this benchmark's);
# cpu_line FILE RATE prints them, and the CPU time per request (or transaction) of the server and of
# PostgreSQL: on a busy machine the rates move with "other", the CPU time per request much less.
cat > "$tmp/cpu.py" <<'PY'
import os, sys, time
def snap(server, pm):  # {pid: (group, utime + stime of all its threads)}, and the machine's busy ticks
    procs = {}
    for p in os.listdir("/proc"):
        if not p.isdigit(): continue
        try:
            with open("/proc/%s/stat" % p) as f: st = f.read()
        except OSError: continue
        comm, rest = st[st.index("(") + 1:st.rindex(")")], st[st.rindex(")") + 2:].split()
        g = ("firemode" if p == server else "postgres" if pm in (p, rest[1]) else
             "client" if comm in ("wrk", "pgbench") else None)
        if g: procs[p] = (g, int(rest[11]) + int(rest[12]))
    with open("/proc/stat") as f: c = [int(x) for x in f.readline().split()[1:]]
    return procs, sum(c[:8]) - c[3] - c[4]
secs, server, pm = float(sys.argv[1]), sys.argv[2], sys.argv[3]
(a, a_busy), t0 = snap(server, pm), time.monotonic()
time.sleep(secs)
(b, b_busy), dt = snap(server, pm), time.monotonic() - t0
hz = os.sysconf("SC_CLK_TCK"); u = {"firemode": 0.0, "postgres": 0.0, "client": 0.0, "busy": (b_busy - a_busy) / hz / dt}
for p, (g, t) in b.items():  # processes alive at the end; one that started in the window counts from 0
    u[g] += (t - (a[p][1] if p in a else 0)) / hz / dt
print(os.cpu_count(), u["busy"], u["firemode"], u["postgres"], u["client"],
      max(0.0, u["busy"] - u["firemode"] - u["postgres"] - u["client"]))
PY
cpu_window() { /usr/bin/python3 "$tmp/cpu.py" "$1" "${2:--}" "${3:--}"; }
cpu_line() { # cpu_line FILE RATE
  awk -v r="${2:-0}" '{printf "  cpu (cores of %d): %.2f busy = %.2f firemode + %.2f postgres + %.2f wrk/pgbench + %.2f other", $1, $2, $3, $4, $5, $6
       if (r > 0) printf "; per request %.3f ms firemode + %.3f ms postgres", 1000 * $3 / r, 1000 * $4 / r; printf "\n"}' "$1"
}
rate() { awk '/Requests\/sec/ {print $2} /^tps/ {print $3}' "$1"; } # rate FILE: wrk's req/s or pgbench's tps
postmaster_pid() { head -1 "${FIREMODE_TEST_PG_DATA:-/nonexistent}/postmaster.pid" 2>/dev/null || echo -; }

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
  # any answer other than 200 is reported (and means the numbers above are not comparable); request
  # lines are "TIME CLIENT METHOD TARGET STATUS DURATION rid=..", other lines start with "firemode:"
  awk '$1 != "firemode:" && $3 ~ /^(GET|HEAD|POST)$/ && $5 != 200 && $5 != 201 {n[$5]++}
       END {for (s in n) printf "  %s answers with status %s\n", n[s], s}' "$tmp/server.log"
  grep '^firemode:' "$tmp/server.log" | grep -v 'serving on\|SIGTERM\|stopped' | sort | uniq -c | head -5 || true
}

# wrk's output as one line: req/s, average latency (and p99 with --latency), non-2xx answers
wrk_line() {
  awk '/Requests\/sec/ {rps=$2} /Latency/ && !lat {lat=$2} /^ +99%/ {p99=$2} /Non-2xx/ {err=$NF}
       END {printf "%10s req/s  avg latency %s%s%s\n", rps, lat, (p99 ? "  p99 " p99 : ""), (err ? "  NON-2xx: " err : "")}'
}

# pgbench's output as one line: tx/s, average latency, failed transactions
pgbench_line() {
  awk '/^tps/ {tps=$3} /^latency average/ {lat=$4 $5} /number of failed transactions/ && $5 > 0 {err=$5}
       END {printf "%10.1f tx/s   avg latency %s%s\n", tps, lat, (err ? "  FAILED: " err : "")}'
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
    cpu_window $((DUR - 3)) "$server_pid" "$(postmaster_pid)" > "$tmp/cpu.report" &
    wrk -t2 -c32 -d"${DUR}s" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port$path" > "$tmp/wrk.out"
    wrk_line < "$tmp/wrk.out"
    wait $!; cpu_line "$tmp/cpu.report" "$(rate "$tmp/wrk.out")"
  done
  # writes: creates of documents (each a durable commit on SQLite; on this PostgreSQL fsync is off)
  post_lua
  printf '%-11s %-75s ' "$label" "POST /workspaces/$ws/documents"
  cpu_window $((DUR - 3)) "$server_pid" "$(postmaster_pid)" > "$tmp/cpu.report" &
  wrk -t2 -c16 -d"${DUR}s" -s "$tmp/post.lua" "http://127.0.0.1:$port/workspaces/$ws/documents" > "$tmp/wrk.out"
  wrk_line < "$tmp/wrk.out"
  wait $!; cpu_line "$tmp/cpu.report" "$(rate "$tmp/wrk.out")"
  stop_server
}

# Issue 6: what a deep page costs with a cursor and with OFFSET, on a dataset of its own (2 workspaces,
# BENCH_CURSOR_DOCUMENTS documents: the first workspace by name holds ~114k live ones).  A cursor is
# reached by walking 1,000 pages of 100 once; its page of 25 is one range read of the index on
# (workspace_id, created_at, document_id), so it should be within 20% of page 1, while
# ?page=4000&page_size=25 reads and skips 99,975 rows.  All three lines run against one server
# (--threads 4, wrk -t2 -c32), then their ratios to page 1.
seed_cursor() { # seed_cursor DB_URL
  "$BIN" seed --db "$1" --seed 1 --users 20 --workspaces 2 --documents "$DEEP" --jobs 10 --configs 10 \
    --sessions 10 >/dev/null 2>"$tmp/seed.log"
  tail -1 "$tmp/seed.log"
}

first_id() { # first_id URL_PATH: the document_id of the page's first item
  curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port$1" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["document_id"])'
}

bench_cursor() { # bench_cursor LABEL DB_URL
  local label=$1 db=$2 port ws live walk cur secs name path rps="" k s same
  seed_cursor "$db"
  if [ "$label" = postgresql ]; then "$PGBIN/psql" -X -q "$db" -c "VACUUM ANALYZE" -c "CHECKPOINT"; fi
  start_server "$db" 4
  live=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/workspaces/$ws/documents?include_total=true&page_size=1" |
         /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  if [ "$live" -lt 100025 ]; then
    echo "$label: the first workspace has $live live documents, fewer than 100,025: raise BENCH_CURSOR_DOCUMENTS"
    stop_server; return 0
  fi
  # the walk: 1,000 pages of 100 on one keep-alive connection, each following the last next_cursor
  walk=$(/usr/bin/python3 - "$port" "$ws" "$TOKEN" <<'PY'
import http.client, json, sys, time, urllib.parse
port, ws, tok = sys.argv[1:4]
c = http.client.HTTPConnection("127.0.0.1", int(port))
base, h = "/workspaces/%s/documents" % ws, {"Authorization": "Bearer " + tok}
url, t = base + "?page_size=100", time.monotonic()
for i in range(1000):
    c.request("GET", url, headers=h)
    r = c.getresponse(); b = json.loads(r.read())
    if r.status != 200 or len(b.get("items", [])) != 100 or not b.get("next_cursor"):
        sys.exit("walk: page %d answered %d with %d items" % (i + 1, r.status, len(b.get("items", []))))
    url = base + "?cursor=" + urllib.parse.quote(b["next_cursor"]) + "&page_size=100"
print(urllib.parse.quote(b["next_cursor"]), "%.1f" % (time.monotonic() - t))
PY
  )
  read -r cur secs <<<"$walk"
  # the cursor page is rows 100,001..100,025 of the walk: the same rows as ?page=4001&page_size=25
  same=$( [ "$(first_id "/workspaces/$ws/documents?cursor=$cur&page_size=25")" = \
            "$(first_id "/workspaces/$ws/documents?page=4001&page_size=25")" ] && echo "same first row as ?page=4001" ||
          echo "WARNING: its first row is not ?page=4001's")
  echo "$label: $live live documents in the workspace; walked to row 100,000 (1,000 cursor pages of 100) in ${secs} s; the cursor page: $same"
  for name in page1 cursor offset; do
    case $name in
      page1) path="?page_size=25" ;;
      cursor) path="?cursor=$cur&page_size=25" ;;
      offset) path="?page=4000&page_size=25" ;;
    esac
    printf '%-11s %-75s ' "$label" "/workspaces/{ws}/documents${path/cursor=$cur/cursor=<after row 100,000>}"
    cpu_window $((DUR - 3)) "$server_pid" "$(postmaster_pid)" > "$tmp/cpu.report" &
    wrk -t2 -c32 -d"${DUR}s" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/workspaces/$ws/documents$path" > "$tmp/wrk.out"
    wrk_line < "$tmp/wrk.out"
    wait $!; cpu_line "$tmp/cpu.report" "$(rate "$tmp/wrk.out")"
    rps="$rps $(rate "$tmp/wrk.out")"
  done
  printf '%-11s %-75s %s\n' "$label" "ratios to page 1" \
    "$(echo "$rps" | awk '{printf "cursor 100,000 deep %.2f   OFFSET 99,975 %.3f", $2 / $1, $3 / $1}')"
  # The lines above run one after the other, so on a shared machine a change of load between them
  # moves their ratio.  The same pages interleaved on one connection (page 1, cursor, page 1, ..., and
  # an OFFSET page every 50th pair) see the same load: their median latencies (client included).
  printf '%-11s %-75s ' "$label" "interleaved on one connection, median latency"
  /usr/bin/python3 - "$port" "$ws" "$TOKEN" "$cur" <<'PY'
import http.client, sys, time
port, ws, tok, cur = sys.argv[1:5]
c, h = http.client.HTTPConnection("127.0.0.1", int(port)), {"Authorization": "Bearer " + tok}
base = "/workspaces/%s/documents" % ws
urls = {"page1": base + "?page_size=25", "cursor": base + "?cursor=" + cur + "&page_size=25",
        "offset": base + "?page=4000&page_size=25"}
lat = {k: [] for k in urls}
for i in range(2000):
    for k in ("page1", "cursor") + (("offset",) if i % 50 == 0 else ()):
        t = time.perf_counter()
        c.request("GET", urls[k], headers=h)
        r = c.getresponse(); r.read()
        if r.status != 200: sys.exit("%s answered %d" % (k, r.status))
        lat[k].append(time.perf_counter() - t)
m = {k: 1000 * sorted(v)[len(v) // 2] for k, v in lat.items()}
print("page 1 %.3f ms, cursor %.3f ms (%.2f of page 1's rate), OFFSET %.1f ms (%.3f)"
      % (m["page1"], m["cursor"], m["page1"] / m["cursor"], m["offset"], m["page1"] / m["offset"]))
PY
  stop_server
  [ "$label" = postgresql ] || return 0
  # The database alone: pgbench -M prepared running the statement the server runs for each line (as
  # src/grammar/plan.c builds it: the snapshot, then the page of page_size + 1 rows; the cursor's keyset
  # is the 100,000th row's (created_at, document_id) and its "old for S" is seq < xmax, nothing having
  # been in progress), 4 clients as the server's 4 connections.  The server also runs a token lookup
  # per request, and formats JSON; these lines do neither.
  k=$("$PGBIN/psql" -X -At -F ' ' "$db" -c "SELECT created_at, document_id FROM documents WHERE workspace_id = '$ws'
       AND deleted_at IS NULL ORDER BY created_at DESC, document_id DESC LIMIT 1 OFFSET 99999")
  s=$("$PGBIN/psql" -X -At "$db" -c "SELECT pg_snapshot_xmax(pg_current_snapshot())")
  local cols="t.document_id, t.workspace_id, t.original_filename, t.byte_size, t.status, t.source, t.uploaded_by_user_id,
    t.tags, t.created_at, t.last_run_at, t.deleted_at, t.vclock, t.created_at AS fm_s0, t.document_id AS fm_s1"
  cat > "$tmp/page.sql" <<SQL
WITH m AS (SELECT pg_current_snapshot()::text AS fm_pos), p AS (SELECT $cols
  FROM documents t WHERE 1=1 AND t.workspace_id = :ws AND t.deleted_at IS NULL
  ORDER BY t.created_at DESC, t.document_id DESC LIMIT :lim OFFSET :off)
SELECT m.*, p.* FROM m LEFT JOIN p ON 1=1 ORDER BY p.fm_s0 DESC, p.fm_s1 DESC;
SQL
  cat > "$tmp/keyset.sql" <<SQL
WITH m AS (SELECT pg_current_snapshot()::text AS fm_pos), p AS (SELECT $cols
  FROM documents t WHERE 1=1 AND t.workspace_id = :ws AND t.deleted_at IS NULL
  AND (t.created_at, t.document_id) < (:k0, :k1) AND t.seq < :s
  ORDER BY t.created_at DESC, t.document_id DESC LIMIT :lim)
SELECT m.*, p.* FROM m LEFT JOIN p ON 1=1 ORDER BY p.fm_s0 DESC, p.fm_s1 DESC;
SQL
  for name in page1 cursor offset; do
    case $name in
      page1) set -- page.sql -D off=0; path="page 1" ;;
      cursor) set -- keyset.sql -D k0="${k% *}" -D k1="${k#* }" -D s="$s"; path="cursor page 100,000 deep" ;;
      offset) set -- page.sql -D off=99975; path="OFFSET 99,975" ;;
    esac
    printf '%-11s %-75s ' "$label" "pgbench -c4 -M prepared: the statement of $path"
    cpu_window $((DUR - 3)) - "$(postmaster_pid)" > "$tmp/cpu.report" &
    "$PGBIN/pgbench" -n -M prepared -f "$tmp/$1" -D ws="$ws" -D lim=26 "${@:2}" -c 4 -j 2 -T "$DUR" "$db" \
      > "$tmp/pgbench.out" 2>&1
    pgbench_line < "$tmp/pgbench.out"
    wait $!; cpu_line "$tmp/cpu.report" "$(rate "$tmp/pgbench.out")"
  done
}

# What the durable cluster's backends of database firemode are doing while a line runs, sampled
# every 0.5 s after a 2 s warm-up: the mean number in a transaction and per wait event.
# "Lock:transactionid(firemode_counters)" is a writer queued on another's row lock, here the
# write_seq counter row (in parentheses: the table its waiting statement writes);
# "IO:WALSync"/"LWLock:WALWrite" is a commit waiting for (or queued behind) the WAL flush;
# "Client:ClientRead" is a transaction waiting for FireMode's next statement (a create is several
# round trips inside its transaction) or pgbench's next transaction.  Then, over the same window,
# where the CPU went (cpu_window): with every core busy the line is CPU-bound, whatever the waits say.
sample_waits() { # sample_waits SECONDS [SERVER_PID] > report
  sleep 2
  local n=0 end=$((SECONDS + $1 - 3)) cpu
  : > "$tmp/waits"
  cpu_window $(($1 - 3)) "${2:--}" "$(postmaster_pid)" > "$tmp/waits.cpu" &
  cpu=$!
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
  wait "$cpu"
}

bench_durable() { # bench_durable DB_URL; the cluster has fsync, synchronous_commit, full_page_writes on
  local db=$1 port ws c t threads user fm="" pg=""
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
  # Each worker thread runs one request at a time on its one database connection, so --threads
  # caps the transactions in flight: with --threads 4, -c16 and -c64 are
  # still 4 concurrent creates.  The lines run with --threads $DTHREADS (at least the clients);
  # the last FireMode line repeats -c64 with --threads 4, the server's default.
  for threads in "$DTHREADS" 4; do
    start_server "$db" "$threads"
    for c in 1 4 16 64; do
      [ "$threads" = 4 ] && [ "$c" != 64 ] && continue
      t=2; [ "$c" = 1 ] && t=1
      sample_waits "$DUR" "$server_pid" > "$tmp/waits.report" &
      printf '%-11s %-75s ' durable-pg "POST /workspaces/{ws}/documents -c$c (--threads $threads)"
      wrk -t$t -c"$c" -d"${DUR}s" --latency -s "$tmp/post.lua" "http://127.0.0.1:$port/workspaces/$ws/documents" > "$tmp/wrk.out"
      wrk_line < "$tmp/wrk.out"
      if [ "$threads" = "$DTHREADS" ]; then fm="$fm $(rate "$tmp/wrk.out")"; fi
      wait $!; cat "$tmp/waits.report"; cpu_line "$tmp/waits.cpu" "$(rate "$tmp/wrk.out")"
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
    "$PGBIN/pgbench" -n -M prepared -f "$tmp/insert.sql" -D ws="$ws" -D user="$user" -c "$c" -j "$t" -T "$DUR" "$db" \
      > "$tmp/pgbench.out" 2>&1
    pgbench_line < "$tmp/pgbench.out"
    pg="$pg $(rate "$tmp/pgbench.out")"
    wait $!; cat "$tmp/waits.report"; cpu_line "$tmp/waits.cpu" "$(rate "$tmp/pgbench.out")"
  done
  # the two side by side: FireMode's creates per pgbench INSERT at the same clients, in this run
  printf '%-11s %-75s %s\n' durable-pg "FireMode creates / pgbench INSERTs, -c1 -c4 -c16 -c64 (--threads $DTHREADS)" \
    "$(echo "$fm $pg" | awk '{for (i = 1; i <= 4; i++) printf "%s%.2f", (i > 1 ? "  " : ""), ($(i + 4) > 0 ? $i / $(i + 4) : 0)}')"
}

if want sqlite; then bench_db sqlite "sqlite:$tmp/bench.db"; fi
# the PostgreSQL parts run under scripts/with-postgres.sh, in a shell of their own that stops its server
funcs=$(declare -f kill_server seed start_server stop_server wrk_line post_lua bench_db sample_waits bench_durable free_port \
        cpu_window cpu_line rate pgbench_line postmaster_pid seed_cursor first_id bench_cursor)
vars="BIN=$BIN DOCS=$DOCS DEEP=$DEEP DUR=$DUR TOKEN=$TOKEN tmp=$tmp PGBIN=$PGBIN DTHREADS=$DTHREADS server_pid=; trap kill_server EXIT; trap 'exit 143' TERM"
if want postgresql; then
  "$root/scripts/with-postgres.sh" bash -c "$funcs; $vars; bench_db postgresql \"\$FIREMODE_TEST_PG\""
fi
if want cursor; then
  bench_cursor sqlite "sqlite:$tmp/cursor.db"
  "$root/scripts/with-postgres.sh" bash -c "$funcs; $vars; bench_cursor postgresql \"\$FIREMODE_TEST_PG\""
fi
if want durable; then
  FIREMODE_PG_DURABLE=1 "$root/scripts/with-postgres.sh" bash -c "$funcs; $vars; bench_durable \"\$FIREMODE_TEST_PG\""
fi
