"""Conditional writes and the write path under contention with two servers
(node ids a and b) on one PostgreSQL database (CONTRACT.md §6: "No write is
lost, whichever server of a cluster each one talks to").

- 20 clients racing with one ETag, split across the servers: exactly one
  wins, 19 get 412 -- for PATCH, PUT and DELETE.
- A mixed write load through both servers -- creates, PATCHes that move a
  job between configs and between retry_of jobs, PATCHes of those configs
  (title and slug), of the workspace and its members, soft deletes --
  gives 0 deadlocks and 0 503s, and every clock ends as the number of
  writes that went through each server.
"""
import collections
import concurrent.futures
import json
import random
import time

import pytest

import pgfm

TOKEN = "conditional-cluster-token-0123456789"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    pgfm.ensure_pg_running()
    d = tmp_path_factory.mktemp("cond")
    db = pgfm.new_pg_db("fm_cond")
    a = pgfm.Server(db, d, node_id="a", admin_token=TOKEN, threads=8).start()
    b = pgfm.Server(db, d, node_id="b", admin_token=TOKEN, threads=8).start()
    yield a, b
    for s in (a, b):
        log = s.stderr()
        assert "deadlock" not in log.lower(), log[-3000:]
    pgfm.stop_all([a, b])


def etag_of(clock):
    return '"%s"' % ";".join("%s=%d" % (k, clock[k]) for k in sorted(clock))


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_racing_writes_across_two_servers_one_wins(pair, method):
    a, b = pair
    ca = a.client(TOKEN)
    if method == "PUT":
        s = ca.ok("POST", "/v1/tests/sessions", {"building_id": "0190f5a4-0000-7000-8000-000000000001"})
        path, body = "/v1/tests/sessions/%s" % s["id"], {"building_id": s["building_id"], "status": "completed"}
    else:
        ws = ca.ok("POST", "/workspaces", {"name": "race"})["workspace_id"]
        d = ca.ok("POST", "/workspaces/%s/documents" % ws, {"original_filename": "r", "byte_size": 1})
        path, body = "/workspaces/%s/documents/%s" % (ws, d["document_id"]), {"byte_size": 2}
    # a write through b first, so the clock has both servers in it
    r = b.client(TOKEN).req("PATCH" if method != "PUT" else "PUT", path, body=body)
    assert r.status == 200, r
    tag = ca.get(path).header("ETag")
    assert tag == b.client(TOKEN).get(path).header("ETag")  # same clock, same ETag bytes on every server
    assert tag == etag_of(r.json["vector_clock"])

    def send(i):
        srv = (a, b)[i % 2]
        return pgfm.request(srv.port, method, path, token=TOKEN, body=body if method != "DELETE" else None,
                            headers={"If-Match": tag})

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(send, range(20)))
    statuses = sorted(r.status for r in results)
    ok = 204 if method == "DELETE" else 200
    pgfm.note("race %s across two servers: %s" % (method, dict(collections.Counter(statuses))))
    assert statuses == [ok] + [412] * 19, statuses
    for r in results:
        if r.status == 412:
            assert set(r.json) == {"detail", "current"}
            assert r.header("ETag") == etag_of(r.json["current"]["vector_clock"])


def test_mixed_write_load_two_servers_no_deadlock_no_503(pair):
    a, b = pair
    ca = a.client(TOKEN)
    ws = ca.ok("POST", "/workspaces", {"name": "mixed"})["workspace_id"]
    base = "/workspaces/%s" % ws
    cfgs = [ca.ok("POST", base + "/configs", {"slug": "c%d" % i, "title": "C%d" % i})["config_id"] for i in range(2)]
    jobs = [ca.ok("POST", base + "/jobs", {"config_id": cfgs[i % 2]})["job_id"] for i in range(4)]
    users = [ca.ok("POST", "/users", {"email": "mixed%d-%d@example.com" % (i, time.time_ns())})["user_id"]
             for i in range(3)]
    docs = [ca.ok("POST", base + "/documents", {"original_filename": "d%d" % i, "byte_size": i})["document_id"]
            for i in range(6)]
    deadline = time.monotonic() + 6.0
    statuses = collections.Counter()
    kinds = collections.Counter()
    bad = []

    def worker(k):
        rnd = random.Random(k)
        srv = (a, b)[k % 2]
        n = 0
        while time.monotonic() < deadline:
            n += 1
            what = rnd.choice(["move_job", "move_job", "retry_of", "config_title", "config_slug", "create_job",
                               "create_doc", "patch_doc", "delete_doc", "workspace", "member"])
            if what == "move_job":
                r = pgfm.request(srv.port, "PATCH", base + "/jobs/%s" % rnd.choice(jobs), token=TOKEN,
                                 body={"config_id": rnd.choice(cfgs)})
            elif what == "retry_of":
                j1, j2 = rnd.sample(jobs, 2)
                r = pgfm.request(srv.port, "PATCH", base + "/jobs/%s" % j1, token=TOKEN,
                                 body={"retry_of_job_id": j2 if rnd.random() < 0.8 else None})
            elif what == "config_title":
                r = pgfm.request(srv.port, "PATCH", base + "/configs/%s" % rnd.choice(cfgs), token=TOKEN,
                                 body={"title": "t%d-%d" % (k, n)})
            elif what == "config_slug":
                i = rnd.randrange(2)
                r = pgfm.request(srv.port, "PATCH", base + "/configs/%s" % cfgs[i], token=TOKEN,
                                 body={"slug": "c%d-%d-%d" % (i, k, n)})
            elif what == "create_job":
                r = pgfm.request(srv.port, "POST", base + "/jobs", token=TOKEN, body={"config_id": rnd.choice(cfgs)})
            elif what == "create_doc":
                r = pgfm.request(srv.port, "POST", base + "/documents", token=TOKEN,
                                 body={"original_filename": "n", "byte_size": n, "tags": ["a", "b%d" % (n % 3)]})
            elif what == "patch_doc":
                r = pgfm.request(srv.port, "PATCH", base + "/documents/%s" % rnd.choice(docs), token=TOKEN,
                                 body={"byte_size": n, "tags": ["x%d" % (n % 4)]})
            elif what == "delete_doc":
                r = pgfm.request(srv.port, "POST", base + "/documents", token=TOKEN,
                                 body={"original_filename": "del", "byte_size": 1})
                if r.status == 201:
                    r = pgfm.request(srv.port, "DELETE", base + "/documents/%s" % r.json["document_id"], token=TOKEN)
            elif what == "workspace":
                r = pgfm.request(srv.port, "PATCH", base, token=TOKEN, body={"name": "w%d-%d" % (k, n)})
            else:
                r = pgfm.request(srv.port, "POST", base + "/members", token=TOKEN, body={"user_id": rnd.choice(users)})
            statuses[r.status] += 1
            kinds[what] += 1
            if r.status >= 500 or r.status not in (200, 201, 204):
                bad.append((what, r.status, r.body[:200]))

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        for f in [pool.submit(worker, k) for k in range(12)]:
            f.result()
    pgfm.note("mixed writes on two servers: %d requests %s, by kind %s"
              % (sum(statuses.values()), dict(statuses), dict(kinds)))
    assert not bad, bad[:10]
    assert sum(statuses.values()) > 200, statuses
    for s in (a, b):
        assert "deadlock" not in s.stderr().lower()
        assert "40P01" not in s.stderr()


def test_the_token_limit_holds_under_concurrent_minting(pair):
    """At most 100 live tokens per user, whichever server mints them at once
    (SERIALIZABLE: two minters that each counted before the other's insert
    cannot both commit)."""
    a, b = pair
    ca = a.client(TOKEN)
    u = ca.ok("POST", "/users", {"email": "mint-%d@example.com" % time.time_ns()})["user_id"]
    for _ in range(95):
        ca.ok("POST", "/users/%s/tokens" % u)

    def mint(i):
        return pgfm.request((a, b)[i % 2].port, "POST", "/users/%s/tokens" % u, token=TOKEN)

    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        statuses = collections.Counter(r.status for r in pool.map(mint, range(30)))
    listed = ca.ok("GET", "/users/%s/tokens" % u, expect=200)["items"]
    pgfm.note("token limit under 30 concurrent mints: %s, %d tokens" % (dict(statuses), len(listed)))
    assert len(listed) == 100 and statuses[201] == 5 and set(statuses) <= {201, 409}, (statuses, len(listed))


def test_rows_ahead_of_a_restored_database_are_stamped_again(tmp_path):
    """A dump restored into another cluster keeps the old cluster's
    transaction ids as seq, ahead of every snapshot of the new one: the
    server notices the other cluster at start and stamps every row again,
    so walks do not skip them."""
    db = pgfm.new_pg_db("fm_restore")
    name = db.rsplit("/", 1)[1]
    s = pgfm.Server(db, tmp_path, node_id="r", admin_token=TOKEN).start()
    c = s.client(TOKEN)
    ws = c.ok("POST", "/workspaces", {"name": "restored"})["workspace_id"]
    for i in range(5):
        c.ok("POST", "/workspaces/%s/documents" % ws, {"original_filename": "r%d" % i, "byte_size": i})
    s.terminate()
    # what a restore into another cluster looks like: ids far ahead, another cluster id
    pgfm.psql("ALTER TABLE documents DISABLE TRIGGER firemode_seq; UPDATE documents SET seq = 900000000000;"
              " ALTER TABLE documents ENABLE ALWAYS TRIGGER firemode_seq;"
              " UPDATE firemode_meta SET value = 'another-cluster' WHERE key = 'cluster_id'", db=name)
    s = pgfm.Server(db, tmp_path, node_id="r", admin_token=TOKEN).start()
    try:
        c = s.client(TOKEN)
        page = c.ok("GET", "/workspaces/%s/documents?page_size=2" % ws, expect=200)
        seen = [d["document_id"] for d in page["items"]]
        while page["next_cursor"]:
            page = c.ok("GET", "/workspaces/%s/documents?cursor=%s" % (ws, page["next_cursor"]), expect=200)
            seen += [d["document_id"] for d in page["items"]]
        assert len(set(seen)) == 5, seen
    finally:
        s.terminate()
