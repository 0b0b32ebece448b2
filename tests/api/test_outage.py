"""CONTRACT §2 — 503 when the database is unavailable, and recovery once it
is back (PostgreSQL only: the test stops and restarts the private test
cluster through FIREMODE_TEST_PG_CTL).  Kept in the last file of the
suite so that a server that fails to recover spoils nothing else."""
import os
import subprocess
import time

import pytest

from fm import assert_error, backend

pytestmark = pytest.mark.skipif(backend() != "postgres" or not os.environ.get("FIREMODE_TEST_PG_CTL"),
                                reason="needs the PostgreSQL backend and FIREMODE_TEST_PG_CTL")


def pgctl(*args):
    subprocess.run([os.environ["FIREMODE_TEST_PG_CTL"]] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=90)


def eventually_ok(client, path, wait=20.0):
    deadline = time.monotonic() + wait
    r = None
    while time.monotonic() < deadline:
        try:
            r = client.get(path, timeout=5)
            if r.status == 200:
                return r
        except OSError:
            pass
        time.sleep(0.2)
    return r


def test_database_down_is_503_then_recovers(spawn, server):
    s = spawn()
    a = s.admin()
    ws = a.post("/workspaces", {"name": "outage"}).json
    assert a.get("/readyz").status == 200
    pgctl("stop")
    try:
        for method, path, body in (("GET", "/workspaces", None), ("GET", "/me", None),
                                   ("POST", "/workspaces", {"name": "x"}),
                                   ("GET", "/workspaces/%s/documents" % ws["workspace_id"], None),
                                   ("PATCH", "/workspaces/%s" % ws["workspace_id"], {"name": "y"})):
            r = a.request(method, path, json_body=body) if body else a.request(method, path)
            assert_error(r, 503)
        assert s.client().get("/readyz").status == 503
        assert s.running
    finally:
        pgctl("start")
    r = eventually_ok(a, "/workspaces/%s" % ws["workspace_id"])
    assert r is not None and r.status == 200 and r.json["name"] == "outage", r
    assert eventually_ok(s.client(), "/readyz").status == 200
    # the shared server recovers as well
    r = eventually_ok(server.admin(), "/me")
    assert r is not None and r.status == 200, r
