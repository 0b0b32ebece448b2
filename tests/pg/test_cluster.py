"""Two servers (node ids a and b) on one PostgreSQL database (CONTRACT.md §1:
several `serve` processes may share one database; §6: vector clocks).

Both start at the same moment on an empty database: the schema migration
and the FIREMODE_ADMIN_TOKEN admin must come out right however they race.
"""
import concurrent.futures
import http.client
import json

import pytest

import pgfm

TOKEN = "cluster-admin-token-0123456789"
PER_SERVER = 100


def start_pair(db, d, retry_failed_start=False):
    """Spawns servers a and b on db at the same moment, then waits for both.
    With retry_failed_start, a server that exited during start-up is started
    once more (the database is migrated by then); the failure is returned."""
    a = pgfm.Server(db, d, node_id="a", admin_token=TOKEN, threads=4)
    b = pgfm.Server(db, d, node_id="b", admin_token=TOKEN, threads=4)
    a.spawn()
    b.spawn()  # no wait in between: both migrate the empty database at once
    startup_failures = []
    try:
        for s in (a, b):
            try:
                s.wait_healthy()
            except AssertionError as e:
                if not retry_failed_start or s.running:
                    raise
                startup_failures.append(str(e))
                s.start()
        for s in (a, b):
            r = pgfm.request(s.port, "GET", "/readyz")
            assert r.status == 200, (s.node_id, r)
    except AssertionError:
        for s in (a, b):
            if s.running:
                s.proc.kill()
                s.proc.wait()
        raise
    return a, b, startup_failures


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pgfm.ensure_pg_running()
    d = tmp_path_factory.mktemp("cluster")
    # A start-up failure of the race is reported by test_simultaneous_start;
    # here a server that lost it is started again so the rest is still tested.
    a, b, failures = start_pair(pgfm.new_pg_db("fm_cluster"), d, retry_failed_start=True)
    if failures:
        pgfm.note("cluster: a server failed at start (see test_simultaneous_start) and was started again:\n"
                  + "\n".join(failures))
    yield a, b
    pgfm.stop_all([a, b])


def test_simultaneous_start(tmp_path):
    """Both servers start at once on an empty database, several times over:
    both must come up (migration under an advisory lock, one admin user)."""
    pgfm.ensure_pg_running()
    for round_ in range(3):
        d = tmp_path / ("round%d" % round_)
        d.mkdir()
        a, b, _ = start_pair(pgfm.new_pg_db("fm_start"), d)
        try:
            me = [s.client(TOKEN).ok("GET", "/me") for s in (a, b)]
            assert me[0] == me[1], me
        finally:
            pgfm.stop_all([a, b])


def test_both_admins_work(cluster):
    a, b = cluster
    me_a = a.client(TOKEN).ok("GET", "/me")
    me_b = b.client(TOKEN).ok("GET", "/me")
    assert me_a == me_b, (me_a, me_b)
    assert me_a["email"] == "admin@firemode.local" and me_a["is_admin"] is True, me_a
    # exactly one such admin, however the two servers raced to make it
    users = a.client(TOKEN).ok("GET", "/users?q=admin@firemode.local&include_total=true")
    assert users["total"] == 1, users


def test_user_and_token_across_servers(cluster):
    a, b = cluster
    user = a.client(TOKEN).ok("POST", "/users", {"email": "carol@cluster.example", "display_name": "Carol"})
    # the user made on A is visible on B, identically
    assert b.client(TOKEN).ok("GET", "/users/%s" % user["user_id"]) == user
    tok = a.client(TOKEN).ok("POST", "/users/%s/tokens" % user["user_id"])
    assert tok["user_id"] == user["user_id"] and tok["token"], tok
    me = b.client(tok["token"]).ok("GET", "/me")
    assert me["user_id"] == user["user_id"], me
    # and the other way round: a token minted on B works on A
    tok2 = b.client(TOKEN).ok("POST", "/users/%s/tokens" % user["user_id"])
    assert a.client(tok2["token"]).ok("GET", "/me")["user_id"] == user["user_id"]
    # an unknown token is refused on both
    for s in (a, b):
        assert s.client("no-such-token").get("/me").status == 401


def test_workspace_and_documents_listed_identically(cluster):
    a, b = cluster
    ca, cb = a.client(TOKEN), b.client(TOKEN)
    ws = ca.ok("POST", "/workspaces", {"name": "Cluster HQ"})
    base = "/workspaces/%s" % ws["workspace_id"]
    docs = [ca.ok("POST", base + "/documents", {"original_filename": "plan-%02d.pdf" % i, "byte_size": i * 10,
                                                "tags": ["t%d" % (i % 3)], "status": "queued"})
            for i in range(12)]
    for d in docs:
        assert d["vector_clock"] == {"a": 1}, d
    assert cb.ok("GET", "/workspaces/%s" % ws["workspace_id"]) == ws
    first_tokens = []
    for q in ("?page_size=100", "?page_size=5&page=2&include_total=true&sort=original_filename",
              "?tag_in=t1&sort=-byte_size", "?q=PLAN-0&include_total=true"):
        ra, rb = ca.get(base + "/documents" + q), cb.get(base + "/documents" + q)
        assert ra.status == rb.status == 200, (q, ra, rb)
        # Tokens hold the database's snapshot: any transaction that took an id between the
        # two reads (autovacuum's ANALYZE, say) moves it, so they may differ while the rows
        # cannot. Each server must take the other's tokens as its own.
        assert pgfm.without_tokens(ra.body) == pgfm.without_tokens(rb.body), (q, ra.body[:300], rb.body[:300])
        pa, pb = json.loads(ra.body), json.loads(rb.body)
        first_tokens = first_tokens or [pa["sync_token"], pb["sync_token"]]
        for t in (pa["sync_token"], pb["sync_token"]):
            fa, fb = ca.get(base + "/documents/changes?since=" + t), cb.get(base + "/documents/changes?since=" + t)
            assert fa.status == fb.status == 200, (q, fa, fb)
            ja, jb = json.loads(fa.body), json.loads(fb.body)
            assert ja["items"] == jb["items"] == [] and ja["has_more"] is jb["has_more"] is False, (q, ja, jb)
        for t, first in ((pa["next_cursor"], pa), (pb["next_cursor"], pb)) if pa["next_cursor"] else ():
            # a cursor page keeps its walk's position: the same cursor gives the same bytes everywhere
            na, nb = ca.get(base + "/documents?cursor=" + t), cb.get(base + "/documents?cursor=" + t)
            assert na.status == nb.status == 200, (q, na, nb)
            assert na.body == nb.body, (q, na.body[:300], nb.body[:300])
            pn = json.loads(na.body)
            assert pn["items"] and pn["sync_token"] == first["sync_token"], (q, na.body[:300])
    listed = json.loads(cb.get(base + "/documents?page_size=100&sort=id").body)["items"]
    assert sorted(d["document_id"] for d in docs) == [d["document_id"] for d in listed]
    # either server's token is a position: a write after it is exactly what its feed gives, on both
    patched = cb.ok("PATCH", base + "/documents/" + docs[3]["document_id"], {"status": "processed"})
    for t in first_tokens:
        for c in (ca, cb):
            feed = c.ok("GET", base + "/documents/changes?since=" + t)
            assert [i["document_id"] for i in feed["items"]] == [patched["document_id"]], feed
            assert feed["items"][0] == dict(patched, deleted=False) and feed["has_more"] is False, feed


def test_patch_through_b_of_item_made_on_a(cluster):
    a, b = cluster
    ca, cb = a.client(TOKEN), b.client(TOKEN)
    ws = ca.ok("POST", "/workspaces", {"name": "Clocks"})
    base = "/workspaces/%s" % ws["workspace_id"]
    doc = ca.ok("POST", base + "/documents", {"original_filename": "clock.txt", "byte_size": 1})
    assert doc["vector_clock"] == {"a": 1}, doc
    path = "%s/documents/%s" % (base, doc["document_id"])
    patched = cb.ok("PATCH", path, {"status": "processed"})
    assert patched["vector_clock"] == {"a": 1, "b": 1}, patched
    assert patched["status"] == "processed"
    assert ca.ok("GET", path) == patched
    # the same through a config and a job
    cfg = ca.ok("POST", base + "/configs", {"slug": "main", "title": "Main"})
    cfg2 = cb.ok("PATCH", "%s/configs/%s" % (base, cfg["config_id"]), {"title": "Main 2"})
    assert cfg2["vector_clock"] == {"a": 1, "b": 1}, cfg2
    job = cb.ok("POST", base + "/jobs", {"config_id": cfg["config_id"]})
    assert job["vector_clock"] == {"b": 1}, job
    job2 = ca.ok("PATCH", "%s/jobs/%s" % (base, job["job_id"]), {"status": "running"})
    assert job2["vector_clock"] == {"a": 1, "b": 1}, job2
    job3 = ca.ok("PATCH", "%s/jobs/%s" % (base, job["job_id"]), {"status": "succeeded"})
    assert job3["vector_clock"] == {"a": 2, "b": 1}, job3


def test_concurrent_creates_on_both(cluster):
    a, b = cluster
    ca = a.client(TOKEN)
    ws = ca.ok("POST", "/workspaces", {"name": "Concurrent"})
    base = "/workspaces/%s" % ws["workspace_id"]

    def create(job):
        srv, i = job
        try:
            r = pgfm.request(srv.port, "POST", base + "/documents", token=TOKEN, timeout=30,
                             body={"original_filename": "%s-%03d.bin" % (srv.node_id, i), "byte_size": i})
        except (OSError, http.client.HTTPException) as e:
            return srv.node_id, i, None, "%s: %s" % (type(e).__name__, e)
        return srv.node_id, i, r.status, r.json if r.status == 201 else r.body[:300]

    jobs = [(s, i) for i in range(PER_SERVER) for s in (a, b)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(create, jobs))
    failed = [(n, i, st, body) for (n, i, st, body) in results if st != 201]
    assert not failed, "%d of %d creates failed, first: %s" % (len(failed), len(results), failed[:5])
    ids = [body["document_id"] for (_, _, _, body) in results]
    assert len(set(ids)) == len(ids) == 2 * PER_SERVER
    for node, _, _, body in results:
        assert body["vector_clock"] == {node: 1}, body
    for s in (a, b):
        page = s.client(TOKEN).ok("GET", base + "/documents?include_total=true&page_size=1")
        assert page["total"] == 2 * PER_SERVER, (s.node_id, page)
    seen = []
    for p in (1, 2, 3):
        seen += [d["document_id"] for d in b.client(TOKEN).ok(
            "GET", base + "/documents?page_size=100&sort=id&page=%d" % p)["items"]]
    assert sorted(seen) == sorted(ids)
