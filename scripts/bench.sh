#!/usr/bin/env bash
# make bench: the same seeded data on SQLite and on a private PostgreSQL, one server each (--threads 4),
# wrk (-t2 -c32) against GET /healthz, GET /me and a few list requests, and a create.  Each list line
# is followed by the database alone running the very statement FireMode runs for that request
# (build/plan_sql prints the planner's SQL and its bound values; SQLite: build/sqlite_alone, 2 threads
# with a read-only connection each, the server's pragmas; PostgreSQL: pgbench -n -M prepared -c2 -j2),
# and the line prints both rates and their ratio: on a shared machine the rates move with its load,
# the ratio much less.  /healthz (no database) and /me (the token lookup alone) show what HTTP and
# authentication cost.  See table_header for the columns.
# Then the cursor part (issue 6), on SQLite and on PostgreSQL, on a dataset of its own (2 workspaces,
# ~120k documents each): page 1, a cursor page 100,000 rows deep and ?page=4000 (OFFSET 99,975)
# side by side, each with the database alone on its statement, and their ratios to page 1.
# Then creates on a DURABLE private PostgreSQL (fsync, synchronous_commit and full_page_writes on) at
# 1, 4, 16 and 64 connections, next to pgbench doing a plain one-row INSERT on the same cluster.
#
#   BENCH_SECONDS=10            length of each line (FireMode's, and the database's alone)
#   BENCH_DOCUMENTS=100000      documents seeded (10 workspaces)
#   BENCH_CURSOR_DOCUMENTS=240000  documents of the cursor part's dataset (2 workspaces)
#   BENCH_ONLY=sqlite,postgresql,cursor,durable   the parts to run (default: all)
#   BENCH_DURABLE_THREADS=64    --threads of the server for the durable creates
#   BENCH_ALONE_CLIENTS=2       threads of sqlite_alone, clients of pgbench, for the database alone
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BIN=${FIREMODE_BIN:-build/firemode}
PLAN=build/plan_sql     # the planner's SQL for a request (tests/plans/plan_sql.c)
ALONE=build/sqlite_alone   # SQLite alone on that SQL (tests/bench/sqlite_alone.c)
DOCS=${BENCH_DOCUMENTS:-100000}
DUR=${BENCH_SECONDS:-10}
DEEP=${BENCH_CURSOR_DOCUMENTS:-240000}
ONLY=${BENCH_ONLY:-sqlite,postgresql,cursor,durable}
DTHREADS=${BENCH_DURABLE_THREADS:-64}
ACLIENTS=${BENCH_ALONE_CLIENTS:-2}
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
# plan_sql's statement as a pgbench script: $n -> :pn, and the values as -D pn=VALUE (NUL-separated
# on stdout); a NULL value becomes the literal NULL
cat > "$tmp/pgbench_stmt.py" <<'PY'
import json, re, sys
a = json.load(open(sys.argv[1]))
ps = a["params"]
sql = re.sub(r"\$(\d+)", lambda m: "NULL" if ps[int(m.group(1)) - 1]["type"] == "null" else ":p" + m.group(1), a["stmt"])
with open(sys.argv[2], "w") as f: f.write(sql + ";\n")
args = []
for i, p in enumerate(ps):
    if p["type"] != "null": args += ["-D", "p%d=%s" % (i + 1, p["value"])]
sys.stdout.write("".join(x + "\0" for x in args))
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

# ---- the table: one line per request, FireMode next to the database alone ---------------------------
# Columns: the request; FireMode's req/s (wrk -t2 -c32 against --threads 4) and its p99 latency; the
# database alone running the statement FireMode runs for that request (build/plan_sql prints the
# planner's own SQL and bound values: SQLite in build/sqlite_alone, $ACLIENTS threads with a read-only
# connection each; PostgreSQL in pgbench -n -M prepared -c$ACLIENTS -j$ACLIENTS), in statements/s, right
# after FireMode's; their ratio (FireMode / alone); then CPU time per request: of the server process
# (on SQLite the database runs inside it), of PostgreSQL's backends while FireMode ran, and of the
# database alone (sqlite_alone's process, or PostgreSQL's backends under pgbench); "cpu r.": the
# database's CPU per statement alone / FireMode's (server + PostgreSQL) per request, the share of
# FireMode's CPU that the statement itself needs (on a machine shared with other work the rates
# follow each line's share of the cores, the CPU per request much less); and the cores used by
# everything else on the machine during FireMode's line / the database's line.
table_header() {
  printf '%-10s %-84s %9s %7s %9s %6s %8s %8s %8s %6s %9s\n' "" "request" "req/s" "p99 ms" "alone/s" "ratio" \
    "fm ms" "pg ms" "alone ms" "cpu r." "other"
}

p99_ms() { # p99_ms WRK_OUTPUT (with --latency): the 99th percentile in ms
  awk '/^ +99%/ {v=$2; u=v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                 printf "%.2f", v * (u == "us" ? 0.001 : u == "s" ? 1000 : u == "m" ? 60000 : 1)}' "$1"
}

# fm_run NAME URL [wrk args...]: wrk against URL; sets fm_rps fm_p99 (ms) fm_cpu (the cpu_window
# fields: cores busy firemode postgres client other) and prints any non-2xx count to stderr
fm_run() {
  local name=$1 url=$2; shift 2
  cpu_window $((DUR - 3)) "$server_pid" "$(postmaster_pid)" > "$tmp/cpu.report" &
  wrk -t2 -c"${conns:-32}" -d"${DUR}s" --latency "$@" "$url" > "$tmp/wrk.out"
  wait $!
  fm_rps=$(rate "$tmp/wrk.out")
  fm_p99=$(p99_ms "$tmp/wrk.out")
  fm_cpu=$(cat "$tmp/cpu.report")
  fm_err=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk.out")
}

# plan COLL QUERY AFTER_JSON DB_URL > statement: the planner's statement for the admin's list request
# (the bench's token is the admin's) in workspace $ws, as plan_sql prints it
plan() {
  printf '{"coll": "%s", "query": "%s", "ws": "%s", "user": "%s", "admin": true, "after": %s}\n' \
    "$1" "$2" "$ws" "$admin_user" "$3" | "$PLAN" "$4" > "$tmp/plan.json"
  if grep -q '"error"' "$tmp/plan.json"; then echo "plan_sql: $(cat "$tmp/plan.json")" >&2; return 1; fi
}

# alone DB_URL: the database alone running $tmp/plan.json for DUR seconds; sets al_rate al_cpu
# (al_rate "-" if it failed; the reason goes to stderr)
alone() {
  local db=$1 pid
  al_rate=-; al_cpu=
  case $db in
    sqlite:*)
      "$ALONE" "${db#sqlite:}" "$DUR" "$ACLIENTS" < "$tmp/plan.json" > "$tmp/alone.out" 2> "$tmp/alone.err" &
      pid=$!
      cpu_window $((DUR - 3)) "$pid" - > "$tmp/alone.cpu"
      if wait "$pid"; then al_rate=$(awk '{print $2}' "$tmp/alone.out"); else cat "$tmp/alone.err" >&2; fi
      al_cpu=$(awk '{print $1, $2, $3, $4, $5, $6}' "$tmp/alone.cpu") ;;
    *)
      # $n -> :pn with -D pn=VALUE: pgbench -M prepared prepares it once per connection with
      # untyped parameters, as the server's PQprepare does (a $n used twice becomes two parameters)
      local -a args
      mapfile -d '' args < <(/usr/bin/python3 "$tmp/pgbench_stmt.py" "$tmp/plan.json" "$tmp/alone.sql")
      cpu_window $((DUR - 3)) - "$(postmaster_pid)" > "$tmp/alone.cpu" &
      pid=$!
      if "$PGBIN/pgbench" -n -M prepared -c"$ACLIENTS" -j"$ACLIENTS" -T "$DUR" -f "$tmp/alone.sql" "${args[@]}" "$db" > "$tmp/alone.out" 2>&1 &&
         ! grep -q 'number of failed transactions: [1-9]' "$tmp/alone.out"; then
        al_rate=$(rate "$tmp/alone.out")
      else
        tail -3 "$tmp/alone.out" >&2
      fi
      wait "$pid"; al_cpu=$(cat "$tmp/alone.cpu") ;;
  esac
}

# row LABEL REQUEST [alone]: prints the line of the last fm_run, and of the last alone if asked
row() {
  printf '%-10s %-84s ' "$1" "$2"
  { echo "$fm_rps ${fm_p99:-0} $fm_cpu"; if [ -n "${3:-}" ]; then echo "$al_rate ${al_cpu:--}"; else echo "-"; fi; } |
    awk -v err="$fm_err" -v pgsql="$([ "$1" = sqlite ] && echo 0 || echo 1)" '
      NR == 1 {r = $1; p99 = $2; fm = $5; pg = $6; oth = $8}
      NR == 2 {a = $1; acpu = $4 + $5; aoth = $7}
      END {
        printf "%9.0f %7.2f ", r, p99
        if (a == "-" || a <= 0) printf "%9s %6s ", "-", "-"; else printf "%9.0f %6.2f ", a, r / a
        printf "%8.3f ", (r > 0 ? 1000 * fm / r : 0)
        if (pgsql) printf "%8.3f ", (r > 0 ? 1000 * pg / r : 0); else printf "%8s ", "-"
        if (a == "-" || a <= 0) printf "%8s %6s %9.2f", "-", "-", oth
        else printf "%8.3f %6.2f %4.2f/%4.2f", 1000 * acpu / a, (fm + pg > 0 ? (acpu / a) / ((fm + pg) / r) : 0), oth, aoth
        if (err) printf "  NON-2xx: %s", err
        printf "\n"
      }'
}

# the line of one list request: FireMode, then the database alone on the statement FireMode runs
list_row() { # list_row LABEL DB_URL COLL QUERY [AFTER_JSON [DISPLAY]]
  local label=$1 db=$2 coll=$3 query=$4 after=${5:-null} display=${6:-}
  [ -n "$display" ] || display="/workspaces/{ws}/$coll${query:+?$query}"
  fm_run "$display" "http://127.0.0.1:$port/workspaces/$ws/$coll${query:+?$query}" -H "Authorization: Bearer $TOKEN"
  if plan "$coll" "$query" "$after" "$db"; then alone "$db"; else al_rate=-; al_cpu=; fi
  row "$label" "$display" alone
}

me_user() {
  curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/me" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["user_id"])'
}

bench_db() { # bench_db LABEL DB_URL
  local label=$1 db=$2 port ws last admin_user spec
  seed "$db"
  # settled tables (visibility map, hint bits) before the first line, so FireMode's line and the
  # database's alone after it read the same pages
  if [ "$label" = postgresql ]; then "$PGBIN/psql" -X -q "$db" -c "VACUUM ANALYZE" -c "CHECKPOINT"; fi
  start_server "$db" 4
  admin_user=$(me_user)
  # the deepest page that still has items: OFFSET cost within one workspace (~10k documents);
  # page=4000 (OFFSET 99975) is past its end unless BENCH_DOCUMENTS is about 1M
  last=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/workspaces/$ws/documents?include_total=true&page_size=1" |
         /usr/bin/python3 -c 'import json,sys; print(max(1, (json.load(sys.stdin)["total"] + 24) // 25))')
  table_header
  # what a request costs without the list statement: HTTP alone, then HTTP + the token lookup
  fm_run /healthz "http://127.0.0.1:$port/healthz"; row "$label" "/healthz (no database)"
  fm_run /me "http://127.0.0.1:$port/me" -H "Authorization: Bearer $TOKEN"; row "$label" "/me (the token lookup, no list)"
  for spec in "documents|" \
              "documents|sort=-last_run_at&status_in=processed,failed&page_size=50" \
              "documents|page=100&include_total=true" \
              "jobs|status_in=succeeded&sort=-started_at" \
              "documents|page=4000&page_size=25" \
              "documents|page=$last&page_size=25"; do
    list_row "$label" "$db" "${spec%%|*}" "${spec#*|}"
  done
  # writes: creates of documents (each a durable commit on SQLite; on this PostgreSQL fsync is off);
  # a create is several statements (the write path), so no database-alone figure here: the durable
  # part below has pgbench's one-row INSERT next to FireMode's creates
  post_lua
  conns=16 fm_run POST "http://127.0.0.1:$port/workspaces/$ws/documents" -s "$tmp/post.lua"
  row "$label" "POST /workspaces/{ws}/documents (a create, wrk -c16)"
  stop_server
}

# Issue 6: what a deep page costs with a cursor and with OFFSET, on a dataset of its own (2 workspaces,
# BENCH_CURSOR_DOCUMENTS documents: the first workspace by name holds ~114k live ones).  A cursor is
# reached by walking 1,000 pages of 100 once; its page of 25 is one range read of the index on
# (workspace_id, created_at, document_id), so it should be within 20% of page 1, while
# ?page=4000&page_size=25 reads and skips 99,975 rows.  All three lines run against one server
# (--threads 4, wrk -t2 -c32), each followed by the database alone on its statement (for the cursor
# page planned from the walk's position and the 100,000th row's keys), then their ratios to page 1.
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
  local label=$1 db=$2 port ws live walk cur secs name path after display rps="" alone_rps="" same admin_user
  seed_cursor "$db"
  if [ "$label" = postgresql ]; then "$PGBIN/psql" -X -q "$db" -c "VACUUM ANALYZE" -c "CHECKPOINT"; fi
  start_server "$db" 4
  admin_user=$(me_user)
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
  # the database alone: the planner's statements for these pages; the cursor page's is planned from
  # its walk's position (nothing was written since the walk began) and the 100,000th row's keys
  local pos keys
  case $db in
    sqlite:*)
      read -r pos keys < <(/usr/bin/python3 - "${db#sqlite:}" "$ws" <<'PY'
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
pos = c.execute("SELECT value FROM firemode_counters WHERE name = 'write_seq'").fetchone()[0]
k = c.execute("SELECT created_at, document_id FROM documents WHERE workspace_id = ? AND deleted_at IS NULL"
              " ORDER BY created_at DESC, document_id DESC LIMIT 1 OFFSET 99999", (sys.argv[2],)).fetchone()
print(pos, json.dumps([str(k[0]), k[1]]).replace(" ", ""))
PY
      ) ;;
    *)
      pos=$("$PGBIN/psql" -X -At "$db" -c "SELECT pg_current_snapshot()::text")
      keys=$("$PGBIN/psql" -X -At "$db" -c "SELECT json_build_array(created_at::text, document_id) FROM documents
        WHERE workspace_id = '$ws' AND deleted_at IS NULL ORDER BY created_at DESC, document_id DESC LIMIT 1 OFFSET 99999") ;;
  esac
  table_header
  for name in page1 cursor offset; do
    case $name in
      page1) path="page_size=25" after=null ;;
      cursor) path="cursor=$cur&page_size=25" after="{\"pos\": \"$pos\", \"keys\": $keys}" ;;
      offset) path="page=4000&page_size=25" after=null ;;
    esac
    display="/workspaces/{ws}/documents?${path/cursor=$cur/cursor=<after row 100,000>}"
    fm_run "$display" "http://127.0.0.1:$port/workspaces/$ws/documents?$path" -H "Authorization: Bearer $TOKEN"
    rps="$rps $fm_rps"
    if plan documents "${path#cursor=$cur&}" "$after" "$db"; then alone "$db"; else al_rate=-; fi
    alone_rps="$alone_rps $al_rate"
    row "$label" "$display" alone
  done
  printf '%-10s %-84s %s\n' "$label" "ratios to page 1, FireMode / the database alone" \
    "$(echo "$rps $alone_rps" | awk '{printf "cursor 100,000 deep %.2f / %.2f   OFFSET 99,975 %.3f / %.3f", $2 / $1,
      ($4 > 0 ? $5 / $4 : 0), $3 / $1, ($4 > 0 ? $6 / $4 : 0)}')"
  # The lines above run one after the other, so on a shared machine a change of load between them
  # moves their ratio.  The same pages interleaved on one connection (page 1, cursor, page 1, ..., and
  # an OFFSET page every 50th pair) see the same load: their median latencies (client included).
  printf '%-10s %-84s ' "$label" "interleaved on one connection, median latency"
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
  local db=$1 port ws c t threads user fm="" pg="" k
  local -a fm_rows=() pg_rows=() fm_names=()
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
      fm_names+=("POST /workspaces/{ws}/documents -c$c (--threads $threads) | pgbench INSERT -c$c")
      fm_rows+=("$(rate "$tmp/wrk.out") $(p99_ms "$tmp/wrk.out") $(cat "$tmp/waits.cpu")")
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
    pg_rows+=("$(rate "$tmp/pgbench.out") $(cat "$tmp/waits.cpu")")
  done
  # the two side by side: FireMode's creates per pgbench INSERT at the same clients, in this run
  printf '%-11s %-75s %s\n' durable-pg "FireMode creates / pgbench INSERTs, -c1 -c4 -c16 -c64 (--threads $DTHREADS)" \
    "$(echo "$fm $pg" | awk '{for (i = 1; i <= 4; i++) printf "%s%.2f", (i > 1 ? "  " : ""), ($(i + 4) > 0 ? $i / $(i + 4) : 0)}')"
  # the same as a table: each FireMode line next to pgbench's INSERTs at its number of clients
  # (alone ms: PostgreSQL's CPU per INSERT under pgbench)
  table_header
  for k in "${!fm_rows[@]}"; do
    read -r fm_rps fm_p99 fm_cpu <<<"${fm_rows[$k]}"
    read -r al_rate al_cpu <<<"${pg_rows[$((k < 4 ? k : 3))]}"
    fm_err=
    row durable-pg "${fm_names[$k]}" alone
  done
}

echo "Columns: req/s, p99 ms: FireMode (wrk); alone/s: the database alone running FireMode's statement for that"
echo "  request ($ACLIENTS clients, right after FireMode's line); ratio: req/s / alone/s; fm ms, pg ms: CPU per request of the"
echo "  server and of PostgreSQL; alone ms: the database's CPU per statement alone; cpu r.: alone ms / (fm ms + pg ms);"
echo "  other: cores used by the rest of the machine during FireMode's line / the database's. Lines are ${DUR} s."
if want sqlite; then bench_db sqlite "sqlite:$tmp/bench.db"; fi
# the PostgreSQL parts run under scripts/with-postgres.sh, in a shell of their own that stops its server
funcs=$(declare -f kill_server seed start_server stop_server wrk_line post_lua bench_db sample_waits bench_durable free_port \
        table_header p99_ms fm_run plan alone row list_row me_user \
        cpu_window cpu_line rate pgbench_line postmaster_pid seed_cursor first_id bench_cursor)
vars="BIN=$BIN PLAN=$PLAN ALONE=$ALONE DOCS=$DOCS DEEP=$DEEP DUR=$DUR TOKEN=$TOKEN tmp=$tmp PGBIN=$PGBIN DTHREADS=$DTHREADS ACLIENTS=$ACLIENTS server_pid=; trap kill_server EXIT; trap 'exit 143' TERM"
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
