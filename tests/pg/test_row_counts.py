"""Kept counts (PostgreSQL schema step 9; plan.c): the total of a list with
no filter (include_total on all users, an admin's workspaces, a
workspace's documents, configs or jobs) is the sum of the counts the
database keeps as rows are written, per table and scope, one row per slot
(the writing session's backend pid).  These tests hold the kept counts to
count(*) of the rows they count, whatever writes them: the seed, two
servers writing at once, writes that fail, a transaction rolled back, a
savepoint, a TRUNCATE, the migration of a database that has rows; and hold
that writers never wait for one another on them.
"""
import concurrent.futures
import random
import subprocess
import time

import pytest

import pgfm

TOKEN = "row-counts-admin-token-0123456789"

# table -> (scope expression, live condition), as schema step 9 counts them
COUNTED = {
    "users": ("''", "true"),
    "workspaces": ("''", "true"),
    "documents": ("workspace_id", "deleted_at IS NULL"),
    "configs": ("workspace_id", "deleted_at IS NULL"),
    "jobs": ("workspace_id", "true"),
}


rows = pgfm.rows


def kept(db):
    return {(t, s): int(n) for t, s, n in rows(db, "SELECT tbl, scope, sum(n) FROM firemode_row_counts"
                                                   " GROUP BY tbl, scope") if int(n) != 0}


def truth(db):
    out = {}
    for t, (key, live) in COUNTED.items():
        for s, n in rows(db, "SELECT %s, count(*) FROM %s WHERE %s GROUP BY 1" % (key, t, live)):
            out[(t, s)] = int(n)
    return out


def assert_counts_exact(db, what):
    k, t = kept(db), truth(db)
    diff = {key: (k.get(key), t.get(key)) for key in set(k) | set(t) if k.get(key) != t.get(key)}
    assert not diff, "%s: kept counts differ from count(*) (kept, count): %r" % (what, diff)
    return t


def assert_api_totals(c, db, what):
    """Every unfiltered list's total is count(*); so is a filtered one's
    (which counts the rows)."""
    t = truth(db)
    got = c.ok("GET", "/users?include_total=true&page_size=1")["total"]
    assert got == t.get(("users", ""), 0), (what, "users", got)
    got = c.ok("GET", "/workspaces?include_total=true&page_size=1")["total"]
    assert got == t.get(("workspaces", ""), 0), (what, "workspaces", got)
    for (ws,) in rows(db, "SELECT workspace_id FROM workspaces"):
        for coll in ("documents", "configs", "jobs"):
            got = c.ok("GET", "/workspaces/%s/%s?include_total=true&page_size=1" % (ws, coll))["total"]
            assert got == t.get((coll, ws), 0), (what, coll, ws, got)
    filtered = c.ok("GET", "/users?include_total=true&page_size=1&is_active=true")["total"]
    assert filtered == int(rows(db, "SELECT count(*) FROM users WHERE is_active")[0][0]), (what, filtered)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    pgfm.ensure_pg_running()
    db = pgfm.new_pg_db("fm_counts")
    pgfm.seed(db, 3, TOKEN, users=40, workspaces=4, documents=400, jobs=120, configs=24, sessions=10)
    d = tmp_path_factory.mktemp("counts")
    a = pgfm.Server(db, d, node_id="a", admin_token=TOKEN, threads=4)
    b = pgfm.Server(db, d, node_id="b", admin_token=TOKEN, threads=4)
    a.start()
    b.start()
    yield db, a, b
    pgfm.stop_all([a, b])


def test_the_seed_is_counted(seeded):
    db, a, _ = seeded
    t = assert_counts_exact(db, "after the seed")
    assert t[("users", "")] >= 40 and sum(n for (tb, _), n in t.items() if tb == "documents") > 0
    assert rows(db, "SELECT count(*) FROM documents WHERE deleted_at IS NOT NULL")[0][0] != "0", \
        "the seed should soft delete some documents, so that the live condition is tested"
    assert_api_totals(a.client(TOKEN), db, "after the seed")


def test_concurrent_writes_on_two_servers_stay_counted(seeded):
    """8 clients on two servers create users, workspaces, documents, configs
    (some with a slug already taken: a 409, the write rolled back) and jobs,
    and soft delete documents and configs, all at once."""
    db, a, b = seeded
    wss = [w for (w,) in rows(db, "SELECT workspace_id FROM workspaces")]
    cfgs = {w: [c for (c,) in rows(db, "SELECT config_id FROM configs WHERE workspace_id = '%s'"
                                       " AND deleted_at IS NULL" % w)] for w in wss}
    statuses = {}

    def client(i):
        rnd = random.Random(i)
        c = (a if i % 2 else b).client(TOKEN)
        for n in range(30):
            ws = rnd.choice(wss)
            op = rnd.choice(["user", "workspace", "doc", "doc", "del_doc", "config", "dup_config", "job",
                             "del_config"])
            if op == "user":
                r = c.req("POST", "/users", {"email": "c%d-%d@example.com" % (i, n)})
            elif op == "workspace":
                r = c.req("POST", "/workspaces", {"name": "w%d-%d" % (i, n)})
            elif op == "doc":
                r = c.req("POST", "/workspaces/%s/documents" % ws, {"original_filename": "f", "byte_size": 1})
            elif op == "del_doc":
                items = c.ok("GET", "/workspaces/%s/documents?page_size=5" % ws)["items"]
                if not items:
                    continue
                r = c.req("DELETE", "/workspaces/%s/documents/%s" % (ws, rnd.choice(items)["document_id"]))
            elif op in ("config", "dup_config"):
                slug = "dup" if op == "dup_config" else "s%d-%d" % (i, n)
                r = c.req("POST", "/workspaces/%s/configs" % ws, {"slug": slug, "title": "t"})
            elif op == "job":
                r = c.req("POST", "/workspaces/%s/jobs" % ws, {"config_id": rnd.choice(cfgs[ws])})
            else:
                items = c.ok("GET", "/workspaces/%s/configs?page_size=5&sort=-created_at" % ws)["items"]
                if len(items) < 2:
                    continue
                r = c.req("DELETE", "/workspaces/%s/configs/%s" % (ws, items[0]["config_id"]))
            statuses.setdefault((op, r.status), 0)
            statuses[(op, r.status)] += 1
            assert r.status < 500, (op, r)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(client, range(8)))
    assert statuses.get(("dup_config", 409)), statuses  # some writes failed and were rolled back
    assert any(op == "del_doc" and s == 204 for op, s in statuses), statuses
    assert_counts_exact(db, "after concurrent writes %r" % statuses)
    assert_api_totals(a.client(TOKEN), db, "after concurrent writes")
    assert_api_totals(b.client(TOKEN), db, "after concurrent writes")


USER_ROW = ("INSERT INTO users (user_id, email, email_canonical, is_active, is_service_account, is_admin,"
            " created_at, updated_at, vclock, seq) VALUES ('%s', '%s@example.com', '%s@example.com',"
            " true, false, false, 0, 0, '{}', 0);")


class Session:
    """A psql session fed statement by statement (each line runs as it
    arrives), named by application_name so that pg_stat_activity finds it."""

    def __init__(self, db, name):
        self.db, self.name = db, name
        self.proc = subprocess.Popen([pgfm.PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                                      db + ("&" if "?" in db else "?") + "application_name=" + name],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)

    def send(self, sql):
        self.proc.stdin.write(sql + "\n")
        self.proc.stdin.flush()

    def wait_for(self, cond, what, timeout=20):
        """Waits until pg_stat_activity shows this session with cond."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if rows(self.db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                             " AND application_name = '%s' AND %s" % (self.name, cond))[0][0] != "0":
                return
            time.sleep(0.02)
        raise AssertionError("session %s: no %s after %d s" % (self.name, what, timeout))

    def pid(self):
        return rows(self.db, "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                             " AND application_name = '%s'" % self.name)[0][0]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        assert self.proc.returncode == 0, "session %s: %s" % (self.name, err)


def waiting_for_a_lock(db):
    return rows(db, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE NOT l.granted AND a.datname = current_database()")[0][0] != "0"


def users_kept(db):
    return kept(db).get(("users", ""), 0)


def test_a_rolled_back_transaction_or_savepoint_counts_nothing(seeded):
    db, _, _ = seeded
    before = users_kept(db)
    rows(db, "BEGIN; " + USER_ROW % (("rb1",) * 3) + " ROLLBACK;")
    assert users_kept(db) == before
    rows(db, "BEGIN; SAVEPOINT s; " + USER_ROW % (("sp1",) * 3) + " ROLLBACK TO SAVEPOINT s; "
         + USER_ROW % (("sp2",) * 3) + " COMMIT;")
    assert users_kept(db) == before + 1
    # several rows in one statement: one upsert, the whole number
    rows(db, "INSERT INTO users SELECT user_id || '-m', 'm' || email, 'm' || email_canonical, display_name,"
             " is_active, is_service_account, is_admin, created_at, updated_at, last_login_at, vclock, seq"
             " FROM users WHERE user_id NOT LIKE '%-m' LIMIT 7")
    assert users_kept(db) == before + 8
    # an upsert that inserts nothing adds nothing
    rows(db, USER_ROW.replace(";", " ON CONFLICT DO NOTHING;") % (("sp2",) * 3))
    assert users_kept(db) == before + 8
    # a hard delete (no API does one; an operator might)
    rows(db, "DELETE FROM users WHERE user_id IN ('sp2') OR user_id LIKE '%-m'")
    assert users_kept(db) == before
    # a restore by hand (soft delete undone) counts the row again
    d = rows(db, "SELECT document_id, workspace_id FROM documents WHERE deleted_at IS NOT NULL LIMIT 1")[0]
    before_ws = kept(db).get(("documents", d[1]), 0)
    rows(db, "UPDATE documents SET deleted_at = NULL WHERE document_id = '%s'" % d[0])
    assert kept(db).get(("documents", d[1]), 0) == before_ws + 1
    rows(db, "UPDATE documents SET deleted_at = 1, status = status WHERE document_id = '%s'" % d[0])
    assert kept(db).get(("documents", d[1]), 0) == before_ws
    # many rows of several workspaces in one statement: soft deleted, half restored, moved
    rows(db, "UPDATE documents SET deleted_at = 9 WHERE document_id IN (SELECT document_id FROM documents"
             " WHERE deleted_at IS NULL ORDER BY document_id LIMIT 60)")
    assert_counts_exact(db, "after 60 soft deletes in one statement")
    rows(db, "UPDATE documents SET deleted_at = NULL WHERE deleted_at = 9 AND document_id LIKE '%0'"
             " OR deleted_at = 9 AND document_id LIKE '%5'")
    ws2 = [w for (w,) in rows(db, "SELECT workspace_id FROM workspaces ORDER BY workspace_id LIMIT 2")]
    rows(db, "UPDATE documents SET workspace_id = '%s' WHERE workspace_id = '%s' AND document_id IN"
             " (SELECT document_id FROM documents ORDER BY document_id DESC LIMIT 30)" % (ws2[1], ws2[0]))
    rows(db, "UPDATE jobs SET workspace_id = '%s' WHERE job_id IN (SELECT job_id FROM jobs WHERE workspace_id = '%s'"
             " LIMIT 4)" % (ws2[0], ws2[1]))
    assert_counts_exact(db, "after rollbacks, savepoints, hard deletes, restores and moves")


def test_writers_never_wait_on_the_counts(seeded):
    """Each session adds to slots of its own: a transaction that has counted
    a row and not committed holds no row another writer of the same table
    and scope needs (lock_timeout would fail the second insert)."""
    db, _, _ = seeded
    holder = Session(db, "fm_hold")
    try:
        holder.send("BEGIN;")
        holder.send(USER_ROW % (("hold1",) * 3))
        holder.wait_for("backend_xid IS NOT NULL AND state = 'idle in transaction'", "uncommitted insert")
        rows(db, "SET lock_timeout = '500ms'; BEGIN; " + USER_ROW % (("hold2",) * 3) + " COMMIT;")
        holder.send("COMMIT;")
    finally:
        holder.close()
    assert rows(db, "SELECT count(*) FROM users WHERE user_id IN ('hold1', 'hold2')") == [("2",)]
    rows(db, "DELETE FROM users WHERE user_id IN ('hold1', 'hold2')")
    assert_counts_exact(db, "after two concurrent inserts")


def test_writes_with_another_search_path_are_counted(seeded):
    """The count functions carry the migration's search_path: a writer with
    another one (pg_dump's restore sets it empty) still finds the counts."""
    db, _, _ = seeded
    before = users_kept(db)
    schema = rows(db, "SELECT current_schema()")[0][0]
    rows(db, "SET search_path = pg_catalog; " + USER_ROW.replace("INSERT INTO users", "INSERT INTO %s.users" % schema)
         % (("sp-path",) * 3))
    assert users_kept(db) == before + 1
    # the path they keep is the schema itself, resolved ("$user" would depend on who writes)
    for (conf,) in rows(db, "SELECT array_to_string(proconfig, ',') FROM pg_proc WHERE proname LIKE 'firemode_count_%'"):
        assert conf in ("search_path=%s" % schema, 'search_path="%s"' % schema), conf
    rows(db, "DELETE FROM users WHERE user_id = 'sp-path'")
    assert_counts_exact(db, "after a write with search_path = pg_catalog")


def test_recount_mends_counts_that_drifted(seeded, tmp_path):
    """Rows written with the count triggers disabled are not counted;
    firemode recount makes the counts again and says how many were wrong."""
    db, a, _ = seeded
    rows(db, "ALTER TABLE users DISABLE TRIGGER firemode_count_ins; " + USER_ROW % (("drift1",) * 3)
         + " ALTER TABLE users ENABLE ALWAYS TRIGGER firemode_count_ins;")
    assert users_kept(db) == truth(db)[("users", "")] - 1
    r = subprocess.run([pgfm.binary(), "recount", "--db", db], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "1 scope had a wrong count" in r.stdout, r.stdout
    assert_counts_exact(db, "after firemode recount")
    assert_api_totals(a.client(TOKEN), db, "after firemode recount")
    r = subprocess.run([pgfm.binary(), "recount", "--db", db], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "0 scopes had a wrong count" in r.stdout, (r.stdout, r.stderr)
    rows(db, "DELETE FROM users WHERE user_id = 'drift1'")
    assert_counts_exact(db, "after the drifted row is gone")


def test_truncate_forgets_the_tables_counts(tmp_path):
    pgfm.ensure_pg_running()
    db = pgfm.new_pg_db("fm_counts_trunc")
    pgfm.seed(db, 4, TOKEN, users=5, workspaces=2, documents=10, jobs=10, configs=4, sessions=0)
    assert any(t == "jobs" for t, _ in kept(db))
    rows(db, "TRUNCATE jobs")
    assert not any(t == "jobs" for t, _ in kept(db))
    assert_counts_exact(db, "after TRUNCATE jobs")


def undo_step_9(db):
    """Takes the database back to before schema step 9 (the last one): no
    counts, no count triggers or functions."""
    version = int(rows(db, "SELECT value FROM firemode_meta WHERE key = 'schema_version'")[0][0])
    drop = ["DROP TABLE firemode_row_counts;"]
    for t in COUNTED:
        for kind in ("ins", "del", "trunc", "upd"):
            drop.append("DROP TRIGGER IF EXISTS firemode_count_%s ON %s; DROP FUNCTION IF EXISTS"
                        " firemode_count_%s_%s();" % (kind, t, kind, t))
    rows(db, "BEGIN; %s UPDATE firemode_meta SET value = '%d' WHERE key = 'schema_version'; COMMIT;"
         % (" ".join(drop), version - 1))
    return version


def test_a_database_with_rows_is_counted_when_it_migrates(tmp_path):
    """A database migrated before step 9 (its rows not counted) gets the
    counts of the rows it holds from the step itself, exact even for a row
    whose transaction commits while the migration waits for its table, and
    even where transactions default to REPEATABLE READ (the migration runs
    at READ COMMITTED: its fill must see what committed before its locks)."""
    pgfm.ensure_pg_running()
    db = pgfm.new_pg_db("fm_counts_migrate")
    pgfm.seed(db, 5, TOKEN, users=30, workspaces=3, documents=200, jobs=50, configs=9, sessions=0)
    version = undo_step_9(db)
    # rows written while the database was at the old version
    rows(db, USER_ROW % (("old1",) * 3))
    rows(db, "UPDATE documents SET deleted_at = 7 WHERE document_id IN"
             " (SELECT document_id FROM documents WHERE deleted_at IS NULL LIMIT 5)")
    dbname = db.rsplit("/", 1)[1]
    rows(db, "ALTER DATABASE \"%s\" SET default_transaction_isolation = 'repeatable read'" % dbname)
    # a writer that commits while the migration waits for its lock on users
    holder = Session(db, "fm_late")
    s = pgfm.Server(db, tmp_path, node_id="m", admin_token=TOKEN, threads=2)
    try:
        holder.send("BEGIN;")
        holder.send(USER_ROW % (("late1",) * 3))
        holder.wait_for("backend_xid IS NOT NULL AND state = 'idle in transaction'", "uncommitted insert")
        s.spawn()
        deadline = time.time() + 20
        while not waiting_for_a_lock(db):
            assert time.time() < deadline, "the migration never waited for the writer's lock"
            time.sleep(0.02)
        holder.send("COMMIT;")
        holder.close()
        s.wait_healthy()
        assert rows(db, "SELECT value FROM firemode_meta WHERE key = 'schema_version'")[0][0] == str(version)
        assert rows(db, "SELECT count(*) FROM users WHERE user_id = 'late1'") == [("1",)]
        assert_counts_exact(db, "after the migration")
        assert ("0",) in rows(db, "SELECT DISTINCT slot FROM firemode_row_counts")
        assert_api_totals(s.client(TOKEN), db, "after the migration")
    finally:
        if holder.proc.poll() is None:
            holder.proc.kill()
        pgfm.stop_all([s])


def test_the_counts_of_ended_sessions_are_folded_at_start(tmp_path):
    """Each session adds to slots of its own (pid * 16 + its transaction id
    mod 16); a server's start folds those of sessions that have ended into
    slot 0, so rows do not pile up with restarts, and leaves a live
    session's alone."""
    pgfm.ensure_pg_running()
    db = pgfm.new_pg_db("fm_counts_fold")
    pgfm.seed(db, 6, TOKEN, users=10, workspaces=2, documents=20, jobs=5, configs=3, sessions=0)
    s = pgfm.Server(db, tmp_path, node_id="f1", admin_token=TOKEN, threads=4)
    s.start()
    try:
        c = s.client(TOKEN)
        ws = rows(db, "SELECT workspace_id FROM workspaces LIMIT 1")[0][0]
        for i in range(40):
            c.ok("POST", "/users", {"email": "fold%d@example.com" % i})
            c.ok("POST", "/workspaces/%s/documents" % ws, {"original_filename": "f", "byte_size": 1})
        assert int(rows(db, "SELECT count(DISTINCT slot) FROM firemode_row_counts WHERE tbl = 'users'")[0][0]) > 2
    finally:
        pgfm.stop_all([s])
    # a session that has committed a count and is still there
    live = Session(db, "fm_live")
    s2 = pgfm.Server(db, tmp_path, node_id="f2", admin_token=TOKEN, threads=2)
    try:
        live.send(USER_ROW % (("live1",) * 3))
        live.wait_for("state = 'idle' AND query LIKE 'INSERT%'", "committed insert")
        assert rows(db, "SELECT count(*) FROM users WHERE user_id = 'live1'") == [("1",)]
        live_pid = live.pid()
        # the first server's sessions have ended (a backend leaves a moment after its client)
        deadline = time.time() + 20
        while rows(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                       " AND backend_type = 'client backend' AND application_name <> 'fm_live'"
                       " AND pid <> pg_backend_pid()")[0][0] != "0":
            assert time.time() < deadline, "the first server's sessions are still there"
            time.sleep(0.02)
        s2.start()
        slots = [p for (p,) in rows(db, "SELECT DISTINCT slot / 16 FROM firemode_row_counts WHERE slot > 0")]
        assert live_pid in slots, (slots, live_pid)  # the live session's slot stays
        running = [p for (p,) in rows(db, "SELECT pid FROM pg_stat_activity")]
        assert all(p in running for p in slots), (slots, running)  # no ended session's slot is left
        assert_counts_exact(db, "after the fold")
        assert_api_totals(s2.client(TOKEN), db, "after the fold")
    finally:
        live.close()
        pgfm.stop_all([s2])
    assert_counts_exact(db, "after the live session ended")
