"""CONTRACT §1 — running it: configuration by flag or environment (a flag
wins), FIREMODE_ADMIN_TOKEN, `firemode user add EMAIL [--admin]`,
`firemode seed`."""
import os
import subprocess

from fm import Client, binary, free_port, unique


def run_cli(args, env=None, timeout=60):
    e = dict(os.environ)
    for k in ("FIREMODE_DB", "FIREMODE_LISTEN", "FIREMODE_NODE_ID", "FIREMODE_ADMIN_TOKEN"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run([binary()] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=e, timeout=timeout)


def test_help_exits_0():
    r = run_cli(["--help"])
    assert r.returncode == 0
    out = (r.stdout + r.stderr).decode()
    for word in ("serve", "seed", "user add", "--db", "--listen", "--node-id"):
        assert word in out, word


def test_configuration_from_environment(spawn):
    db = spawn.new_db()
    s = spawn(db_url=db, args_fn=lambda srv: [],
              env_fn=lambda srv: {"FIREMODE_DB": srv.db_url, "FIREMODE_LISTEN": "127.0.0.1:%d" % srv.port,
                                  "FIREMODE_NODE_ID": "env-node"})
    ws = s.admin().post("/workspaces", {"name": "env"}).json
    assert ws["vector_clock"] == {"env-node": 1}


def test_flags_win_over_environment(spawn):
    db = spawn.new_db()
    decoy = free_port()
    s = spawn(db_url=db,
              args_fn=lambda srv: ["--db", srv.db_url, "--listen", "127.0.0.1:%d" % srv.port, "--node-id", "flag-node"],
              env_fn=lambda srv: {"FIREMODE_DB": "sqlite:/nonexistent-dir/x/y.db",
                                  "FIREMODE_LISTEN": "127.0.0.1:%d" % decoy, "FIREMODE_NODE_ID": "env-node"})
    ws = s.admin().post("/workspaces", {"name": "flags"}).json
    assert ws["vector_clock"] == {"flag-node": 1}
    try:
        Client(decoy).get("/healthz", timeout=2)
        listening_on_decoy = True
    except OSError:
        listening_on_decoy = False
    assert not listening_on_decoy


def test_admin_token_changes_with_restart(spawn):
    db = spawn.new_db()
    s = spawn(db_url=db, admin_token="first-" + unique("t"))
    me1 = s.admin().get("/me").json
    s.terminate()
    s2 = spawn(db_url=db, admin_token="second-" + unique("t"))
    me2 = s2.admin().get("/me").json
    assert me2["user_id"] == me1["user_id"] and me2["email"] == "admin@firemode.local" and me2["is_admin"]
    # exactly one such admin
    r = s2.admin().get("/users", params={"q": "admin@firemode.local", "include_total": "true"})
    assert r.json["total"] == 1


def test_admin_token_reactivates_admin(spawn):
    db = spawn.new_db()
    s = spawn(db_url=db)
    a = s.admin()
    me = a.get("/me").json
    # demote and deactivate the built-in admin through another admin
    other = a.post("/users", {"email": unique("adm") + "@example.com", "is_admin": True}).json
    tok = a.post("/users/%s/tokens" % other["user_id"]).json["token"]
    oc = Client(s.port, tok)
    assert oc.patch("/users/%s" % me["user_id"], {"is_active": False, "is_admin": False}).status == 200
    assert a.get("/me").status == 403
    s.terminate()
    s2 = spawn(db_url=db, admin_token=s.admin_token)
    me2 = s2.admin().get("/me")
    assert me2.status == 200 and me2.json["is_active"] is True and me2.json["is_admin"] is True


def test_user_add_prints_working_token(spawn):
    db = spawn.new_db()
    email = unique("cli") + "@example.com"
    r = run_cli(["user", "add", email, "--admin", "--db", db])
    assert r.returncode == 0, r.stderr.decode()
    token = r.stdout.decode().strip().splitlines()[-1].strip()
    assert token and " " not in token
    r2 = run_cli(["user", "add", "plain-" + email, "--db", db])
    assert r2.returncode == 0, r2.stderr.decode()
    token2 = r2.stdout.decode().strip().splitlines()[-1].strip()
    # the same email again fails (case-insensitively)
    r3 = run_cli(["user", "add", email.upper(), "--db", db])
    assert r3.returncode != 0
    s = spawn(db_url=db)
    me = Client(s.port, token).get("/me")
    assert me.status == 200 and me.json["email"] == email and me.json["is_admin"] is True
    me2 = Client(s.port, token2).get("/me")
    assert me2.status == 200 and me2.json["is_admin"] is False


def test_user_add_bad_email_fails(spawn):
    db = spawn.new_db()
    r = run_cli(["user", "add", "not-an-email", "--db", db])
    assert r.returncode != 0


def test_seed_small(spawn):
    db = spawn.new_db()
    r = run_cli(["seed", "--db", db, "--users", "5", "--workspaces", "2", "--documents", "30", "--jobs", "6",
                 "--configs", "3", "--sessions", "4"], timeout=120)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    s = spawn(db_url=db)
    a = s.admin()
    users = a.get("/users", params={"include_total": "true"}).json["total"]
    assert users >= 5
    wss = a.get("/workspaces", params={"include_total": "true", "page_size": 100}).json
    assert wss["total"] == 2
    ndocs = njobs = ncfg = 0
    for w in wss["items"]:
        base = "/workspaces/%s" % w["workspace_id"]
        ndocs += a.get(base + "/documents", params={"include_total": "true", "include_deleted": "true"}).json["total"]
        njobs += a.get(base + "/jobs", params={"include_total": "true"}).json["total"]
        ncfg += a.get(base + "/configs", params={"include_total": "true", "include_deleted": "true"}).json["total"]
    assert (ndocs, njobs, ncfg) == (30, 6, 3)


def test_sqlite_memory_database(spawn):
    s = spawn(db_url="sqlite::memory:")
    a = s.admin()
    w = a.post("/workspaces", {"name": "mem"})
    assert w.status == 201
    for _ in range(12):  # whichever worker answers sees the same database
        assert a.get("/workspaces/%s" % w.json["workspace_id"]).status == 200
        assert a.get("/me").status == 200


def test_default_database_is_firemode_db_in_cwd(spawn):
    s = spawn(args_fn=lambda srv: ["--listen", "127.0.0.1:%d" % srv.port, "--node-id", "d"])
    assert s.admin().post("/workspaces", {"name": "default-db"}).status == 201
    assert os.path.exists(os.path.join(s.workdir, "firemode.db"))


def test_default_node_id_stable_per_host_and_port(spawn):
    db = spawn.new_db()
    port = free_port()
    args = lambda srv: ["--db", srv.db_url, "--listen", "127.0.0.1:%d" % srv.port]  # noqa: E731
    s1 = spawn(db_url=db, args_fn=args, port=port)
    k1 = list(s1.admin().post("/workspaces", {"name": "n1"}).json["vector_clock"])
    s1.terminate()
    s2 = spawn(db_url=db, args_fn=args, port=port, admin_token=s1.admin_token)
    k2 = list(s2.admin().post("/workspaces", {"name": "n2"}).json["vector_clock"])
    s3 = spawn(db_url=db, args_fn=args, admin_token=s1.admin_token)  # another port, at the same time
    k3 = list(s3.admin().post("/workspaces", {"name": "n3"}).json["vector_clock"])
    assert len(k1) == 1 and k1 == k2, (k1, k2)
    assert k3 != k1, (k1, k3)


def test_recount(spawn):
    """`firemode recount`: on PostgreSQL the kept counts of include_total are
    made again from the rows (none was wrong here); SQLite keeps none. A
    stray argument is a usage error (2)."""
    db = spawn.new_db()
    r = run_cli(["recount", "--db", db])
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    if db.startswith("sqlite:"):
        assert out.startswith("nothing to recount"), out
    else:
        assert "0 scopes had a wrong count" in out, out
    r = run_cli(["recount", "now", "--db", db])
    assert r.returncode == 2 and b"usage" in r.stderr, r
    r = run_cli(["recount", "--db", "postgresql://127.0.0.1:1/none"])
    assert r.returncode == 1 and r.stderr.startswith(b"firemode: "), r
