"""Deep page-number pages (src/grammar/plan.c, "keys first"): from an OFFSET of
the dialect's keys_first_offset rows on (SQLite 1,500, PostgreSQL 200) a page
finds its rows' keys in the sort index first and then reads only those rows.
Whatever form a page takes, page N is rows (N-1)*size .. N*size-1 of the walk
in the same order: checked here against a cursor walk of the whole list, on
both sides of each backend's threshold, with sorts (nullable keys NULLS LAST
both ways), filters, include_total, a workspace scope, the last page, the
first page past the end (the empty-page form), and the cursor a deep page
hands out.  The plans are pinned in tests/pg/test_plans.py."""
import subprocess

import pytest

from fm import binary, new_db_url

TOKEN = "deep-pages-admin-token-0123456789"
N = 1730  # rows per list: past both thresholds with pages of 100 and of 25


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    d = tmp_path_factory.mktemp("deep")
    url = new_db_url(d)
    subprocess.run([binary(), "seed", "--db", url, "--seed", "11", "--admin-token", TOKEN, "--users", str(N - 1),
                    "--workspaces", "1", "--documents", str(N), "--jobs", str(N), "--configs", str(N), "--sessions", "0"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(d), timeout=300)
    return url


@pytest.fixture(scope="module")
def server(seeded, tmp_path_factory):
    from fm import Server
    s = Server(seeded, tmp_path_factory.mktemp("deep-srv"), admin_token=TOKEN).start()
    yield s
    s.terminate()


def walk(c, path, params):
    r = c.get(path, dict(params, page_size=100))
    assert r.status == 200, r
    items = list(r.json["items"])
    while r.json["next_cursor"]:
        r = c.get(path, {"cursor": r.json["next_cursor"], "page_size": 100})
        assert r.status == 200, r
        items += r.json["items"]
    return items


# (page size, pages): both sides of SQLite's 1,500 and PostgreSQL's 200 rows,
# the last page and the first one past the end
PAGES = [(100, [2, 3, 14, 15, 16, 17]), (25, [8, 9, 55, 56, 60, 61, 62])]


def check(c, path, params, pk):
    everything = walk(c, path, params)
    assert len({it[pk] for it in everything}) == len(everything)
    total = len(everything)
    for size, pages in PAGES:
        last = (total + size - 1) // size
        for page in pages + [last, last + 1]:
            r = c.get(path, dict(params, page=page, page_size=size))
            assert r.status == 200, r
            want = everything[(page - 1) * size:page * size]
            got = r.json["items"]
            assert [it[pk] for it in got] == [it[pk] for it in want], (path, params, size, page)
            assert got == want
            assert r.json["page"] == page and r.json["page_size"] == size
            assert r.json["has_next"] == (page * size < total), (path, params, size, page)
            if "include_total" in params:
                assert r.json["total"] == total
            if r.json["next_cursor"]:
                n = c.get(path, {"cursor": r.json["next_cursor"], "page_size": size})
                assert n.status == 200, n
                assert n.json["items"] == everything[page * size:(page + 1) * size], (path, params, size, page)
            else:
                assert page * size >= total
            if not got:
                # past the end: still the page's position (one statement carries it), and a
                # feed from it has nothing (nothing was written)
                f = c.get(path + "/changes", {"since": r.json["sync_token"]})
                assert f.status == 200, f
                assert f.json["items"] == [] and f.json["has_more"] is False, f.json
    return total


@pytest.mark.parametrize("params", [
    {},
    {"sort": "email"},
    {"sort": "-last_login_at"},
    {"sort": "last_login_at,-created_at"},
    {"is_active": "true", "include_total": "true"},
    {"q": "an", "sort": "display_name"},
], ids=["default", "email", "-last_login_at", "last_login_at,-created_at", "active+total", "q+display_name"])
def test_users(server, params):
    total = check(server.admin(), "/users", params, "user_id")
    assert total > 200, total


@pytest.mark.parametrize("params", [
    {},
    {"sort": "last_run_at"},
    {"sort": "-last_run_at"},
    {"sort": "-byte_size", "include_total": "true"},
    {"status_in": "failed,queued", "sort": "original_filename"},
], ids=["default", "last_run_at", "-last_run_at", "-byte_size+total", "status+filename"])
def test_documents(server, params):
    c = server.admin()
    ws = c.get("/workspaces", {"page_size": 1}).json["items"][0]["workspace_id"]
    total = check(c, "/workspaces/%s/documents" % ws, params, "document_id")
    assert total > 200, total


def test_thresholds_are_crossed(server):
    """The lists above are long enough for the keys-first form on both backends."""
    c = server.admin()
    assert len(walk(c, "/users", {})) == N
    ws = c.get("/workspaces", {"page_size": 1}).json["items"][0]["workspace_id"]
    assert len(walk(c, "/workspaces/%s/documents" % ws, {})) > 1600  # (some are deleted)


@pytest.fixture(scope="module")
def member(server):
    """A non-admin member of the seeded workspace: (client, documents path)."""
    from fm import Client, unique_email
    admin = server.admin()
    ws = admin.get("/workspaces", {"page_size": 1}).json["items"][0]["workspace_id"]
    r = admin.post("/users", {"email": unique_email("deep")})
    assert r.status == 201, r
    uid = r.json["user_id"]
    r = admin.post("/users/%s/tokens" % uid)
    assert r.status == 201, r
    c = Client(server.port, r.json["token"])
    r = admin.post("/workspaces/%s/members" % ws, {"user_id": uid})
    assert r.status == 201, r
    return c, "/workspaces/%s/documents" % ws


@pytest.mark.parametrize("params", [
    {},
    {"sort": "-last_run_at", "include_total": "true"},
    {"q": "re", "sort": "-created_at"},
], ids=["default", "-last_run_at+total", "q"])
def test_documents_as_a_member(member, params):
    """The membership check travels into the keys' walk."""
    c, path = member
    check(c, path, params, "document_id")


@pytest.mark.parametrize("coll,pk,params", [
    ("jobs", "job_id", {}),
    ("jobs", "job_id", {"sort": "-started_at", "status_in": "succeeded,failed,running"}),
    ("configs", "config_id", {}),
    ("configs", "config_id", {"sort": "title", "include_deleted": "true", "include_total": "true"}),
], ids=["jobs", "jobs-started_at+status", "configs", "configs-title+deleted+total"])
def test_jobs_and_configs(server, coll, pk, params):
    c = server.admin()
    ws = c.get("/workspaces", {"page_size": 1}).json["items"][0]["workspace_id"]
    check(c, "/workspaces/%s/%s" % (ws, coll), params, pk)


def test_schema_step_9_keeps_statistics(tmp_path):
    """SQLite: a database at schema step 8 that was ANALYZEd gets step 9's
    indexes with the old ones' statistics (one column longer), the old
    indexes go, and a database never ANALYZEd gets no statistics."""
    import sqlite3
    from fm import Server, backend
    if backend() != "sqlite":
        pytest.skip("SQLite's schema step 9")
    for analyzed in (True, False):
        path = tmp_path / ("s%d.db" % analyzed)
        subprocess.run([binary(), "seed", "--db", "sqlite:%s" % path, "--users", "5", "--workspaces", "2",
                        "--documents", "300", "--jobs", "0", "--configs", "40", "--sessions", "0"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
        db = sqlite3.connect(str(path))
        # back to step 8 as it was: the old indexes (and their statistics)
        for t, k in (("documents", "document_id"), ("configs", "config_id")):
            db.execute("DROP INDEX %s_ws_live_created_keys" % t)
            db.execute("CREATE INDEX %s_ws_live_created ON %s (workspace_id, created_at, %s) WHERE deleted_at IS NULL"
                       % (t, t, k))
        db.execute("DELETE FROM sqlite_stat1")
        if analyzed:
            db.execute("ANALYZE")
        else:
            db.execute("DROP TABLE sqlite_stat1")
        db.execute("UPDATE firemode_meta SET value = '8' WHERE key = 'schema_version'")
        db.commit()
        old = dict(db.execute("SELECT idx, stat FROM sqlite_stat1").fetchall()) if analyzed else {}
        db.close()
        s = Server("sqlite:%s" % path, tmp_path).start()
        s.terminate()
        db = sqlite3.connect(str(path))
        assert db.execute("SELECT value FROM firemode_meta WHERE key = 'schema_version'").fetchone()[0] == "9"
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        stats = dict(db.execute("SELECT idx, stat FROM sqlite_stat1").fetchall())
        for t in ("documents", "configs"):
            assert "%s_ws_live_created_keys" % t in names and "%s_ws_live_created" % t not in names
            if analyzed:
                assert stats["%s_ws_live_created_keys" % t] == old["%s_ws_live_created" % t] + " 1"
                assert "%s_ws_live_created" % t not in stats
        if not analyzed:
            assert stats == {}, stats
        db.close()
