"""Faults: PostgreSQL goes away under a running server (CONTRACT.md §2: 503
when the database is unavailable, never a 500, never a hang) and comes back
(the server recovers by itself, without a restart): a stop and a start, a
restart under load, and a cluster frozen with SIGSTOP (it stops answering
without closing anything; the processes are those of this run's private
cluster, found through its postmaster.pid, and are thawed in a `finally`).

The cluster is shared with the other tests of this directory: every test
that stops it starts it again in a `finally`.
"""
import http.client
import os
import signal
import threading
import time

import pytest

import pgfm

TOKEN = "faults-admin-token-0123456789"
DEADLINE_503 = 2.5  # seconds, measured by the client


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    pgfm.ensure_pg_running()
    d = tmp_path_factory.mktemp("faults")
    s = pgfm.Server(pgfm.new_pg_db("fm_faults"), d, node_id="faults", admin_token=TOKEN, threads=4).start()
    yield s
    pgfm.ensure_pg_running()
    s.terminate()


@pytest.fixture(scope="module")
def ws(srv):
    c = srv.client(TOKEN)
    w = c.ok("POST", "/workspaces", {"name": "faults"})
    return "/workspaces/%s" % w["workspace_id"]


def timed_get(srv, target, token=TOKEN):
    """GET with a generous socket timeout; returns the Resp (elapsed set) or
    raises AssertionError on a transport failure."""
    try:
        return pgfm.request(srv.port, "GET", target, token=token, timeout=15)
    except (OSError, http.client.HTTPException) as e:
        raise AssertionError("GET %s: no answer (%s: %s)" % (target, type(e).__name__, e))


def assert_503(r, what):
    assert r.status == 503, "%s: expected 503 while PostgreSQL is down, got %r" % (what, r)
    detail = r.json.get("detail")
    assert isinstance(detail, str) and detail, "%s: 503 without a JSON detail: %r" % (what, r)
    assert r.elapsed < DEADLINE_503, "%s: 503 took %.2f s (limit %.1f s)" % (what, r.elapsed, DEADLINE_503)


def wait_recovered(srv, target, timeout=10.0):
    """Polls until target and /readyz both answer 200; returns the seconds it took."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        r = timed_get(srv, target)
        assert r.status in (200, 503), "while PostgreSQL comes back: %s -> %r" % (target, r)
        if r.status == 200:
            ready = timed_get(srv, "/readyz", token=None)
            assert ready.status in (200, 503), ready
            if ready.status == 200:
                return time.monotonic() - t0
            last = ready
        else:
            last = r
        time.sleep(0.1)
    raise AssertionError("server did not recover within %.0f s after PostgreSQL came back; last answer %r\n"
                         "server stderr tail:\n%s" % (timeout, last, srv.stderr()[-3000:]))


def test_stop_then_start(srv, ws):
    c = srv.client(TOKEN)
    doc = c.ok("POST", ws + "/documents", {"original_filename": "before-stop.pdf", "byte_size": 7, "tags": ["x"]})
    doc_path = "%s/documents/%s" % (ws, doc["document_id"])
    list_path = ws + "/documents?page_size=5&include_total=true"
    assert timed_get(srv, list_path).status == 200
    try:
        rc, out = pgfm.pgctl("stop")
        assert rc == 0, "pg_ctl stop failed: %s" % out
        # every worker (4 threads, one connection each) must notice: more requests than workers
        for i in range(8):
            assert_503(timed_get(srv, list_path), "list #%d" % i)
        assert_503(timed_get(srv, doc_path), "single GET")
        assert_503(timed_get(srv, "/me"), "/me")
        r = pgfm.request(srv.port, "POST", ws + "/documents", token=TOKEN,
                         body={"original_filename": "while-down.pdf", "byte_size": 1}, timeout=15)
        assert_503(r, "POST")
        # several at once: none waits behind another for long
        results = []

        def one():
            try:
                results.append(timed_get(srv, list_path))
            except AssertionError as e:
                results.append(e)
        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        for i, r in enumerate(results):
            assert not isinstance(r, AssertionError), r
            assert_503(r, "concurrent list #%d" % i)
        ready = timed_get(srv, "/readyz", token=None)
        assert_503(ready, "/readyz")
        health = timed_get(srv, "/healthz", token=None)
        assert health.status == 200, "/healthz must not depend on the database: %r" % health

        rc, out = pgfm.pgctl("start")
        assert rc == 0, "pg_ctl start failed: %s" % out
        took = wait_recovered(srv, list_path)
        assert srv.running, "the server exited while PostgreSQL was down:\n" + srv.stderr()[-2000:]
        pgfm.note("\nfaults: recovered %.2f s after PostgreSQL started again" % took)
        # every worker reconnected: no request fails any more
        for i in range(16):
            r = timed_get(srv, list_path)
            assert r.status == 200, "request #%d after recovery: %r\nserver stderr tail:\n%s" % (
                i, r, srv.stderr()[-2000:])
        # the data written before the stop is still there, and writes work again
        got = timed_get(srv, doc_path)
        assert got.status == 200, got
        assert got.json == doc, (got.json, doc)
        c.ok("POST", ws + "/documents", {"original_filename": "after-start.pdf", "byte_size": 2})
        names = [d["original_filename"] for d in c.ok("GET", ws + "/documents?page_size=100")["items"]]
        assert "before-stop.pdf" in names and "after-start.pdf" in names, names
        assert "while-down.pdf" not in names, names
    finally:
        pgfm.ensure_pg_running()


def test_restart_under_load(srv, ws):
    c = srv.client(TOKEN)
    c.ok("POST", ws + "/documents", {"original_filename": "before-restart.pdf", "byte_size": 3})
    stop = threading.Event()
    lock = threading.Lock()
    answers = []  # (monotonic time, kind, status or exception text)
    bad = []

    def loop(n):
        i = 0
        while not stop.is_set():
            i += 1
            try:
                if i % 5 == 0:
                    r = pgfm.request(srv.port, "POST", ws + "/documents", token=TOKEN, timeout=15,
                                     body={"original_filename": "load-%d-%d.txt" % (n, i), "byte_size": i})
                    ok = r.status in (201, 503)
                else:
                    target = ws + ("/documents?include_total=true&page_size=3" if i % 2 else "/documents?page_size=10")
                    r = pgfm.request(srv.port, "GET", target, token=TOKEN, timeout=15)
                    ok = r.status in (200, 503)
                if r.status == 503:
                    ok = ok and bool(r.json.get("detail")) and r.elapsed < DEADLINE_503
                with lock:
                    answers.append((time.monotonic(), r.status))
                    if not ok:
                        bad.append("%s -> %d in %.2f s: %r" % ("POST" if i % 5 == 0 else "GET", r.status,
                                                                r.elapsed, r.body[:200]))
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    answers.append((time.monotonic(), "error"))
                    bad.append("no answer: %s: %s" % (type(e).__name__, e))
            time.sleep(0.005)

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(3)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.5)
        t_restart = time.monotonic()
        rc, out = pgfm.pgctl("restart")
        assert rc == 0, "pg_ctl restart failed: %s" % out
        t_up = time.monotonic()
        # keep the load on until it has been answered 2xx for a while
        deadline = t_up + 10
        while time.monotonic() < deadline:
            time.sleep(0.2)
            with lock:
                recent = [s for (t, s) in answers if t > time.monotonic() - 1.0]
            if time.monotonic() - t_up > 2 and recent and all(s in (200, 201) for s in recent):
                break
        t_stop = time.monotonic()
        stop.set()
        for t in threads:
            t.join(20)
    finally:
        stop.set()
        pgfm.ensure_pg_running()
    statuses = {}
    for _, s in answers:
        statuses[s] = statuses.get(s, 0) + 1
    pgfm.note("\nfaults: restart took %.2f s; %d answers under load: %s" % (t_up - t_restart, len(answers), statuses))
    assert not bad, "%d bad answers during the restart (want 200/201 or a prompt 503 with detail), first: %s" % (
        len(bad), bad[:5])
    # the last second of load (at least 2 s after PostgreSQL was back) was all 2xx
    after = [s for (t, s) in answers if t > t_stop - 1.0]
    assert len(after) >= 10 and all(s in (200, 201) for s in after), (
        "not recovered after the restart: answers of the last second %s\nserver stderr tail:\n%s"
        % (after, srv.stderr()[-2000:]))
    assert wait_recovered(srv, ws + "/documents") < 10
    names = [d["original_filename"] for d in c.ok("GET", ws + "/documents?page_size=100&sort=id")["items"]]
    assert "before-restart.pdf" in names


def _cluster_pids():
    """The postmaster of the test cluster and its children (pids)."""
    with open(os.path.join(os.environ["FIREMODE_TEST_PG_DATA"], "postmaster.pid")) as f:
        pm = int(f.readline())
    pids = [pm]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pm:
                pids.append(int(d))
    return pids


def test_frozen_database_answers_503(srv, ws):
    """PostgreSQL that stops answering without closing anything (every
    process of the cluster frozen with SIGSTOP: what a hung host or a
    black-holed network looks like) must still give a prompt 503, not a
    request that hangs until the database wakes up."""
    list_path = ws + "/documents?page_size=5"
    assert timed_get(srv, list_path).status == 200
    pids = _cluster_pids()
    results = []
    try:
        for p in pids:
            os.kill(p, signal.SIGSTOP)
        for i in range(2):
            t0 = time.monotonic()
            try:
                r = pgfm.request(srv.port, "GET", list_path, token=TOKEN, timeout=DEADLINE_503 + 2)
                results.append("%d after %.2f s" % (r.status, time.monotonic() - t0))
                assert_503(r, "request #%d while PostgreSQL is frozen" % i)
            except (OSError, http.client.HTTPException) as e:
                results.append("no answer within %.1f s (%s)" % (time.monotonic() - t0, type(e).__name__))
                raise AssertionError("request #%d while PostgreSQL is frozen: no answer within %.1f s "
                                     "(want 503 within %.1f s)" % (i, DEADLINE_503 + 2, DEADLINE_503))
    finally:
        for p in pids:
            try:
                os.kill(p, signal.SIGCONT)
            except OSError:
                pass
        pgfm.note("faults: while PostgreSQL was frozen: %s" % (results,))
    wait_recovered(srv, list_path, timeout=15)
