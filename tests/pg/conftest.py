"""PostgreSQL-only tests: differential (SQLite vs PostgreSQL), faults (the
database goes away under a running server) and two servers on one database.

Run through scripts/with-postgres.sh, which exports FIREMODE_TEST_PG and
FIREMODE_TEST_PG_CTL.  Helpers live in pgfm.py.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pgfm  # noqa: E402


def pytest_report_header(config):
    return "firemode pg tests: bin=%s pg=%s" % (pgfm.binary(), pgfm.pg_url())


def pytest_terminal_summary(terminalreporter):
    if pgfm.SUMMARY:
        terminalreporter.section("firemode pg")
        for line in pgfm.SUMMARY:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session", autouse=True)
def _pg_environment():
    if not os.path.exists(pgfm.binary()):
        pytest.exit("server binary %s does not exist (run make)" % pgfm.binary(), returncode=2)
    if not pgfm.pg_url() or not pgfm.pg_ctl():
        pytest.skip("FIREMODE_TEST_PG / FIREMODE_TEST_PG_CTL not set: run through scripts/with-postgres.sh")
    yield
