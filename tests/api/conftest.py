"""Harness for the black-box API suite (tests/api).

    FIREMODE_BIN           server binary (default build/firemode, relative to the repo root)
    FIREMODE_TEST_BACKEND  sqlite (default) or postgres
    FIREMODE_TEST_PG       for postgres: postgresql://postgres@127.0.0.1:PORT/firemode of a private
                           cluster; each server gets a fresh database created through psql

One server (`server`) is shared by the whole session; `spawn` starts extra
servers for the process-level tests (SIGTERM, kill -9, restarts).  Every
server's stderr goes to a file; stopping one sends SIGTERM and asserts exit
code 0 and no sanitizer report.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fm  # noqa: E402
from fm import Client, Server, new_db_url, unique, unique_email  # noqa: E402
from openapi_check import CHECK  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "openapi_unchecked(reason): this test sends deliberately malformed requests; "
                                       "its answers are not checked against /openapi.json")


@pytest.fixture(autouse=True)
def _openapi_check(request):
    """Each answer is checked against the document unless the test is marked
    openapi_unchecked (deliberately malformed raw-socket requests only)."""
    CHECK.enabled = request.node.get_closest_marker("openapi_unchecked") is None
    yield
    CHECK.enabled = True


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(
        "openapi: %d answers validated against /openapi.json (%d outside its paths/methods checked by its general "
        "rules, %d unchecked in openapi_unchecked tests)" % (CHECK.validated, CHECK.outside, CHECK.unchecked))


def pytest_report_header(config):
    return "firemode: bin=%s backend=%s" % (fm.binary(), fm.backend())


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    if not os.path.exists(fm.binary()):
        pytest.exit("server binary %s does not exist (run make)" % fm.binary(), returncode=2)
    if fm.backend() == "postgres" and not os.environ.get("FIREMODE_TEST_PG"):
        pytest.exit("FIREMODE_TEST_BACKEND=postgres needs FIREMODE_TEST_PG (see scripts/with-postgres.sh)",
                    returncode=2)
    if fm.backend() not in ("sqlite", "postgres"):
        pytest.exit("FIREMODE_TEST_BACKEND must be sqlite or postgres, not %r" % fm.backend(), returncode=2)
    d = tmp_path_factory.mktemp("server")
    s = Server(new_db_url(d), d, node_id="test-a").start()
    yield s
    s.terminate()


class User:
    def __init__(self, obj, client, token):
        self.obj = obj
        self.id = obj["user_id"]
        self.email = obj["email"]
        self.c = client
        self.token = token

    def __repr__(self):
        return "<User %s>" % self.email


class Workspace:
    """A workspace with its (non-admin) owner, and shortcuts to create rows."""

    def __init__(self, api, owner, obj):
        self.api = api
        self.owner = owner
        self.c = owner.c
        self.obj = obj
        self.id = obj["workspace_id"]
        self.base = "/workspaces/%s" % self.id

    def path(self, coll, item=None):
        return "%s/%s" % (self.base, coll) + ("/%s" % item if item else "")

    def create(self, coll, body, client=None, expect=201):
        r = (client or self.c).post(self.path(coll), body)
        assert r.status == expect, "POST %s %r -> %r" % (self.path(coll), body, r)
        return r.json

    def doc(self, client=None, **fields):
        body = {"original_filename": "file.txt", "byte_size": 1}
        body.update(fields)
        return self.create("documents", body, client)

    def config(self, client=None, **fields):
        body = {"slug": unique("cfg"), "title": "Config"}
        body.update(fields)
        return self.create("configs", body, client)

    def default_config(self):
        if not hasattr(self, "_cfg"):
            self._cfg = self.config()
        return self._cfg

    def job(self, client=None, **fields):
        body = {}
        if "config_id" not in fields:
            body["config_id"] = self.default_config()["config_id"]
        body.update(fields)
        return self.create("jobs", body, client)

    def list(self, coll, params=None, client=None):
        return (client or self.c).list(self.path(coll), params)

    def ids(self, coll, params=None, client=None):
        return [it[fm.PK[coll]] for it in self.list(coll, params, client)["items"]]


class Api:
    def __init__(self, server):
        self.server = server
        self.port = server.port
        self.admin = server.admin()
        self.anon = server.client()

    def client(self, token=None):
        return Client(self.port, token)

    def user(self, email=None, admin=False, **fields):
        body = {"email": email or unique_email()}
        if admin:
            body["is_admin"] = True
        body.update(fields)
        r = self.admin.post("/users", body)
        assert r.status == 201, "POST /users %r -> %r" % (body, r)
        obj = r.json
        tok = self.token_for(obj["user_id"])
        return User(obj, Client(self.port, tok), tok)

    def token_for(self, user_id, by=None):
        r = (by or self.admin).post("/users/%s/tokens" % user_id)
        assert r.status == 201, r
        return r.json["token"]

    def workspace(self, owner=None, name=None):
        owner = owner or self.user()
        r = owner.c.post("/workspaces", {"name": name or unique("ws")})
        assert r.status == 201, r
        return Workspace(self, owner, r.json)

    def session(self, client, **fields):
        body = {"building_id": "0190f5a4-0000-7000-8000-000000000001"}
        body.update(fields)
        r = client.post("/v1/tests/sessions", body)
        assert r.status == 201, r
        return r.json


@pytest.fixture(scope="session")
def api(server):
    return Api(server)


@pytest.fixture(scope="session")
def admin(api):
    return api.admin


@pytest.fixture(scope="session")
def anon(api):
    return api.anon


@pytest.fixture
def user(api):
    """A fresh, active, non-admin user."""
    return api.user()


@pytest.fixture
def ws(api):
    """A fresh workspace owned by a fresh non-admin user."""
    return api.workspace()


@pytest.fixture
def spawn(tmp_path):
    """Start extra servers: spawn(db_url=None, **Server kwargs) -> started Server.
    spawn.new_db() makes a fresh database.  At teardown every server still
    running gets SIGTERM and must exit 0 without a sanitizer report."""
    started = []

    def _spawn(db_url=None, **kw):
        s = Server(db_url or new_db_url(tmp_path), tmp_path, **kw)
        started.append(s)
        return s.start()

    _spawn.new_db = lambda: new_db_url(tmp_path)
    _spawn.dir = tmp_path
    yield _spawn
    errors = []
    for s in started:
        try:
            if s.killed:
                s.check_sanitizers()
            elif s.running:
                s.terminate()
            elif s.proc is not None and s.returncode is None:
                s.check_sanitizers()
                raise AssertionError("server on port %s exited by itself with code %s; stderr tail:\n%s"
                                     % (s.port, s.proc.returncode, s.stderr()[-3000:]))
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors))
