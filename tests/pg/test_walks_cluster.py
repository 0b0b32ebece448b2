"""CONTRACT.md §1, §5 — walks under concurrent writes with TWO servers on
one PostgreSQL database: the pages of a walk alternate between the servers
(a cursor minted by one is followed on the other), writer threads are split
across both, the change feed is read from both in turn.  The invariants
checked are tests/api/walklib.py's (the same as tests/api/test_walks.py):
no row twice, every unwritten matching row exactly once, written rows at
most once and in the feed, walk + feed = the final listing, sort order.

    FIREMODE_WALK_EXAMPLES   examples per collection (default: 3 for documents and
                             sessions, 1 for the others); e.g. 60 for a long run
    FIREMODE_WALK_SEED=N     every example with seed N
"""
import os
import sys

import pytest
hypothesis = pytest.importorskip("hypothesis", reason="needs python3-hypothesis (apt-get install python3-hypothesis)")
from hypothesis import HealthCheck, Phase, given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import pgfm

sys.path.insert(0, os.path.join(pgfm.REPO, "tests", "api"))
import walklib  # noqa: E402

TOKEN = "walk-cluster-admin-token-0123456789"
EXAMPLES = os.environ.get("FIREMODE_WALK_EXAMPLES")
MAIN = ("documents", "sessions")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    pgfm.ensure_pg_running()
    d = tmp_path_factory.mktemp("walk-cluster")
    db = pgfm.new_pg_db("fm_walks")
    a = pgfm.Server(db, d, node_id="wa", admin_token=TOKEN, threads=4)
    b = pgfm.Server(db, d, node_id="wb", admin_token=TOKEN, threads=4)
    a.spawn()
    b.spawn()
    try:
        a.wait_healthy()
        b.wait_healthy()
    except AssertionError:
        for s in (a, b):
            if s.running:
                s.proc.kill()
                s.proc.wait()
        raise
    admin_id = a.client(TOKEN).ok("GET", "/me")["user_id"]
    yield a, b, admin_id
    pgfm.note(walklib.summary_line("walks on two servers"))
    for f in walklib.FAILURES:
        pgfm.note("FAILED EXAMPLE " + f)
    pgfm.stop_all([a, b])


def examples(coll):
    if EXAMPLES:
        return int(EXAMPLES)
    return 3 if coll in MAIN else 1


def make_test(coll):
    @settings(max_examples=examples(coll), deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
              suppress_health_check=list(HealthCheck))
    @given(r=st.randoms(use_true_random=True))
    def test(pair, r):
        a, b, admin_id = pair
        seed = int(os.environ.get("FIREMODE_WALK_SEED") or r.getrandbits(63))
        print(walklib.run_example(walklib.COLLECTIONS[coll], [a.port, b.port], TOKEN, admin_id, seed, label=coll,
                                  note=note, min_writers=2))
    test.__name__ = "test_walk_two_servers_" + coll
    test.__doc__ = "Walks of %s, pages alternating between two servers, writers on both." % coll
    return test


for _c in walklib.COLLECTIONS:
    globals()["test_walk_two_servers_" + _c] = make_test(_c)
