"""Issue 10 (CONTRACT §1, §9) — the command line an operator meets first:
numeric flags checked (exit 2 naming the flag), help per command on stdout,
--version and /healthz's version, --listen with a host name, and
`firemode seed` beside a running server."""
import re
import sqlite3
import threading
import time

import pytest

from fm import Client, backend, free_port

from test_cli import run_cli


# ---- numeric flags ----------------------------------------------------------------------

BAD_NUMBERS = ["10k", "1e3", "abc", "", "-1", "1.5", "0x10", " 5", "99999999999999999999999", "+3"]


@pytest.mark.parametrize("flag", ["--documents", "--users", "--workspaces", "--jobs", "--configs", "--sessions",
                                  "--seed"])
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_seed_refuses_bad_numbers(tmp_path, flag, value):
    db = tmp_path / "never.db"
    r = run_cli(["seed", "--db", "sqlite:%s" % db, flag, value])
    err = r.stderr.decode()
    assert r.returncode == 2, (flag, value, r.returncode, err)
    assert flag in err and "whole number" in err, err
    assert not db.exists(), "a refused seed must not touch the database"


@pytest.mark.parametrize("flag,value", [("--documents", "100000001"), ("--users", "0"), ("--workspaces", "0")])
def test_seed_refuses_out_of_range(tmp_path, flag, value):
    r = run_cli(["seed", "--db", "sqlite:%s" % (tmp_path / "x.db"), flag, value])
    assert r.returncode == 2 and flag in r.stderr.decode(), r.stderr.decode()


def test_seed_jobs_need_a_config(tmp_path):
    r = run_cli(["seed", "--db", "sqlite:%s" % (tmp_path / "x.db"), "--configs", "0", "--jobs", "5"])
    assert r.returncode == 2 and "--configs" in r.stderr.decode()


@pytest.mark.parametrize("args,env,name", [
    (["--threads", "abc"], {}, "--threads"),
    (["--threads", "0"], {}, "--threads"),
    (["--threads", "4k"], {}, "--threads"),
    (["--db-timeout", "1e3"], {}, "--db-timeout"),
    (["--db-timeout", "99999999999999999999"], {}, "--db-timeout"),
    (["--max-conn-per-ip", "-1"], {}, "--max-conn-per-ip"),
    ([], {"FIREMODE_THREADS": "10k"}, "FIREMODE_THREADS"),
    ([], {"FIREMODE_DB_TIMEOUT_MS": "2s"}, "FIREMODE_DB_TIMEOUT_MS"),
    ([], {"FIREMODE_MAX_CONN_PER_IP": "lots"}, "FIREMODE_MAX_CONN_PER_IP"),
    (["--log-format", "xml"], {}, "--log-format"),
    ([], {"FIREMODE_LOG_FORMAT": "yaml"}, "FIREMODE_LOG_FORMAT"),
])
def test_serve_refuses_bad_settings(tmp_path, args, env, name):
    r = run_cli(["serve", "--db", "sqlite:%s" % (tmp_path / "x.db"), "--listen", "127.0.0.1:%d" % free_port()] + args,
                env=env, timeout=20)
    err = r.stderr.decode()
    assert r.returncode == 2, (args, env, err)
    assert name in err, err


def test_flag_wins_over_bad_environment(spawn):
    s = spawn(extra_env={"FIREMODE_THREADS": "many"})  # the harness passes --threads
    assert s.client().get("/healthz").status == 200


# ---- help and version ---------------------------------------------------------------------


def test_seed_help_on_stdout():
    r = run_cli(["seed", "--help"])
    out = r.stdout.decode()
    assert r.returncode == 0 and "usage: firemode seed" in out and "--documents" in out, (out, r.stderr)
    assert r.stderr == b""


def test_user_help_is_the_user_commands():
    for args in (["user", "--help"], ["user", "add", "--help"], ["user", "-h"]):
        r = run_cli(args)
        out = r.stdout.decode()
        assert r.returncode == 0 and "usage: firemode user add EMAIL" in out, (args, out)
        assert "--listen" not in out  # not the general help


def test_user_without_arguments_is_usage_error():
    r = run_cli(["user"])
    assert r.returncode == 2 and "usage: firemode user add" in r.stderr.decode()


def test_token_help():
    r = run_cli(["token", "--help"])
    out = r.stdout.decode()
    assert r.returncode == 0 and "token list EMAIL" in out and "token revoke TOKEN_ID" in out


def test_version_prints_version_and_build():
    r = run_cli(["--version"])
    out = r.stdout.decode().strip()
    assert r.returncode == 0, r
    assert re.match(r"^firemode \d+\.\d+\.\d+ \(build [A-Za-z0-9._+-]+\)$", out), out


def test_healthz_says_the_version(server):
    v = run_cli(["--version"]).stdout.decode().split()[1]
    r = Client(server.port).get("/healthz")
    assert r.status == 200 and r.json["status"] == "ok" and r.json["version"] == v, r


# ---- --listen --------------------------------------------------------------------------------


def test_listen_host_name(spawn):
    s = spawn(args_fn=lambda srv: ["--db", srv.db_url, "--listen", "localhost:%d" % srv.port, "--node-id", "lh"])
    assert Client(s.port).get("/healthz").status == 200
    assert "serving on http://localhost:%d" % s.port in s.stderr()


def test_listen_port_only_and_ipv4_literal(spawn):
    s = spawn(args_fn=lambda srv: ["--db", srv.db_url, "--listen", ":%d" % srv.port, "--node-id", "any"])
    assert Client(s.port).get("/healthz").status == 200


def test_listen_unresolvable_host_fails(tmp_path):
    r = run_cli(["serve", "--db", "sqlite:%s" % (tmp_path / "x.db"), "--listen", "no-such-host.invalid:%d" % free_port()],
                timeout=30)
    assert r.returncode != 0 and "no-such-host.invalid" in r.stderr.decode(), r.stderr.decode()


# ---- seed beside a running server ----------------------------------------------------------------


def test_seed_beside_running_server(spawn):
    """The README's order: serve, then seed the same database.  The seed
    succeeds, the server answers reads and writes all along, and no two rows
    share a write position."""
    s = spawn()
    a = s.admin()
    stop = threading.Event()
    results = []

    def traffic():
        while not stop.is_set():
            t = time.monotonic()
            w = a.post("/workspaces", {"name": "beside-seed"}, timeout=30).status
            g = a.get("/workspaces", params={"page_size": 5}, timeout=30).status
            results.append((w, g, time.monotonic() - t))
            time.sleep(0.01)

    th = threading.Thread(target=traffic)
    th.start()
    try:
        r = run_cli(["seed", "--db", s.db_url, "--seed", "42", "--users", "50", "--workspaces", "5",
                     "--documents", "30000", "--jobs", "2000", "--configs", "20", "--sessions", "500"], timeout=300)
    finally:
        stop.set()
        th.join()
    err = r.stderr.decode()
    assert r.returncode == 0, err[-3000:]
    assert results, "no request ran during the seed"
    bad = [x for x in results if x[0] != 201 or x[1] != 200]
    assert not bad, bad[:10]
    total_docs = 0
    for w in a.get("/workspaces", params={"page_size": 100, "sort": "created_at"}).json["items"]:  # seeded: oldest
        if w["name"] != "beside-seed":
            total_docs += a.get("/workspaces/%s/documents" % w["workspace_id"],
                                params={"include_total": "true", "include_deleted": "true"}).json["total"]
    assert total_docs == 30000
    if backend() == "sqlite":
        assert "batches beside another connection" in err, err
        path = s.db_url[len("sqlite:"):]
        con = sqlite3.connect(path, timeout=10)
        try:
            seqs = []
            for t in ("users", "workspaces", "documents", "configs", "jobs", "test_sessions"):
                seqs += [row[0] for row in con.execute("SELECT seq FROM %s" % t)]
            counter = con.execute("SELECT value FROM firemode_counters WHERE name = 'write_seq'").fetchone()[0]
        finally:
            con.close()
        nonzero = [q for q in seqs if q]
        assert len(nonzero) == len(set(nonzero)), "two rows share a write position"
        assert max(nonzero) <= counter
    # the server still writes afterwards, after the seed's positions
    assert a.post("/workspaces", {"name": "after-seed"}).status == 201


def test_seed_fresh_database_fast_path(tmp_path):
    db = "sqlite:%s" % (tmp_path / "fresh.db") if backend() == "sqlite" else None
    if db is None:
        pytest.skip("the fresh-database path is SQLite's")
    r = run_cli(["seed", "--db", db, "--users", "10", "--workspaces", "2", "--documents", "500", "--jobs", "20",
                 "--configs", "3", "--sessions", "10"])
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert "fresh database" in err and "beside another connection" not in err, err
