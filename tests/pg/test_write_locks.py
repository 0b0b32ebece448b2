"""Concurrent writes on PostgreSQL never deadlock (CONTRACT.md §2: never a
500 for anything a client sent; 503 is for an unavailable database).

A PATCH locks its row; a create that refers to that row takes a key-share
lock on it for the foreign key.  Every writer must take its locks in one
order (the write-position counter first), or such pairs deadlock.
"""
import concurrent.futures
import tempfile
import time

import pgfm

TOKEN = "write-locks-admin-token-0123456789"


def test_patch_of_a_parent_and_creates_of_children_do_not_deadlock():
    db = pgfm.new_pg_db("fmlocks")
    with tempfile.TemporaryDirectory() as d:
        s = pgfm.Server(db, d, node_id="locks", admin_token=TOKEN, threads=8)
        s.start()
        try:
            c = s.client(TOKEN)
            ws = c.ok("POST", "/workspaces", {"name": "locks"})["workspace_id"]
            cfg = c.ok("POST", "/workspaces/%s/configs" % ws, {"slug": "main", "title": "Main"})["config_id"]
            me = c.ok("GET", "/me", expect=200)["user_id"]
            deadline = time.monotonic() + 4.0
            statuses = {}

            def patcher(i):
                cl = s.client(TOKEN)
                n = 0
                while time.monotonic() < deadline:
                    if i % 2:
                        r = cl.patch("/workspaces/%s/configs/%s" % (ws, cfg), {"title": "t%d" % n})
                    else:
                        r = cl.patch("/users/%s" % me, {"display_name": "d%d" % n})
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                    n += 1

            def creator(i):
                cl = s.client(TOKEN)
                while time.monotonic() < deadline:
                    if i % 2:
                        r = cl.post("/workspaces/%s/jobs" % ws, {"config_id": cfg})
                    else:
                        r = cl.post("/workspaces/%s/documents" % ws, {"original_filename": "a.txt", "byte_size": 1})
                    statuses[r.status] = statuses.get(r.status, 0) + 1

            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                futs = [pool.submit(patcher, i) for i in range(3)] + [pool.submit(creator, i) for i in range(5)]
                for f in futs:
                    f.result()
            pgfm.note("write locks: %r" % statuses)
            assert set(statuses) <= {200, 201}, statuses
            assert sum(statuses.values()) > 50, statuses
        finally:
            s.terminate()
            s.check_sanitizers()
