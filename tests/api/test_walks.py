"""CONTRACT.md §5 — keyset walks under concurrent writes, with the change
feed, on every collection: a randomized property test (hypothesis).

Each example seeds a fresh scope, starts writer threads, walks with a random
sort, filters and page sizes while they write, stops them, reads the change
feed since the first page's sync_token and a final listing, and checks the
walk's guarantees exactly (the model and the list of checks: walklib.py).

    FIREMODE_WALK_EXAMPLES   examples per collection (default 5); e.g. 200 for a long run
    FIREMODE_WALK_SEED=N     run every example with seed N (a failure prints its seed;
                             with concurrent writers a replay is close, not exact)
    FIREMODE_WALK_SHRINK=1   let hypothesis shrink a failure (off by default: with
                             concurrent writers a failure rarely replays, and the
                             report already names the requests)

Runs on the backend of the suite (FIREMODE_TEST_BACKEND).  The server is the
module's own (a fresh database), so /users holds only this module's users.
A summary line (walks, pages, writes) is printed at the end of the run.
"""
import os

import pytest
hypothesis = pytest.importorskip("hypothesis", reason="needs python3-hypothesis (apt-get install python3-hypothesis)")
from hypothesis import HealthCheck, Phase, given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fm
import walklib

EXAMPLES = int(os.environ.get("FIREMODE_WALK_EXAMPLES", "5"))
PHASES = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if os.environ.get("FIREMODE_WALK_SHRINK") else ())


class _Summary:
    def pytest_terminal_summary(self, terminalreporter):
        if walklib.STATS["walks"] or walklib.FAILURES:
            terminalreporter.section("firemode walks")
            terminalreporter.write_line(walklib.summary_line("walks (%s)" % fm.backend()))
        for f in walklib.FAILURES:
            terminalreporter.write_line("FAILED EXAMPLE " + f)


@pytest.fixture(scope="module", autouse=True)
def _summary(request):
    pm = request.config.pluginmanager
    if not pm.has_plugin("firemode-walks-summary"):
        pm.register(_Summary(), "firemode-walks-summary")
    yield


@pytest.fixture(scope="module")
def walk_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("walks")
    s = fm.Server(fm.new_db_url(d), d, node_id="walk-a").start()
    yield s
    s.terminate()


@pytest.fixture(scope="module")
def walk_admin_id(walk_server):
    return walk_server.admin().ok("GET", "/me")["user_id"]


@pytest.mark.parametrize("coll", list(walklib.COLLECTIONS))
@settings(max_examples=EXAMPLES, deadline=None, database=None, phases=PHASES,
          suppress_health_check=list(HealthCheck))
@given(r=st.randoms(use_true_random=True))
def test_walk_under_writes(walk_server, walk_admin_id, coll, r):
    """Every choice of an example (rows, writers, sort, filters, page sizes)
    comes from its seed; a failure names the seed and the requests."""
    seed = int(os.environ.get("FIREMODE_WALK_SEED") or r.getrandbits(63))
    desc = walklib.run_example(walklib.COLLECTIONS[coll], [walk_server.port], walk_server.admin_token, walk_admin_id,
                               seed, label=coll, note=note)
    print(desc)
