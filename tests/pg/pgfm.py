"""Helpers for the PostgreSQL-only tests (tests/pg): fresh databases through
psql, `firemode serve` processes on free loopback ports, and a tiny HTTP
client.  Standard library only.

Environment (exported by scripts/with-postgres.sh):
    FIREMODE_BIN          server binary (default build/firemode, relative to the repo root)
    FIREMODE_TEST_PG      postgresql://postgres@127.0.0.1:PORT/firemode of a private cluster
    FIREMODE_TEST_PG_CTL  script driving that cluster: stop|start|restart|status
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PSQL = "/usr/bin/psql"
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")

# Lines the tests want shown at the end of the run (conftest prints them).
SUMMARY = []


TOKEN_RE = re.compile(rb'"(next_cursor|sync_token|next_since)":"[A-Za-z0-9_-]+"')


def without_tokens(body):
    """Cursor and feed tokens are opaque and may differ for the same rows (each database has
    its own key; on PostgreSQL they hold the snapshot, which any transaction that takes an id
    moves): compare everything else byte for byte."""
    return TOKEN_RE.sub(rb'"\1":"<token>"', body)


def note(line):
    """Prints line now (seen with -s) and in the end-of-run summary."""
    print(line)
    SUMMARY.append(line.strip())


def binary():
    b = os.environ.get("FIREMODE_BIN", "build/firemode")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def pg_url():
    return os.environ.get("FIREMODE_TEST_PG")


def pg_ctl():
    return os.environ.get("FIREMODE_TEST_PG_CTL")


def _with_db(url, dbname):
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + dbname, u.query, u.fragment))


def psql(sql, db="postgres", timeout=60):
    """Runs sql through psql against database db of the test cluster."""
    r = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", _with_db(pg_url(), db), "-c", sql],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, "psql %r failed (%d): %s" % (sql, r.returncode, r.stderr)
    return r.stdout


def psql_url(url, sql, timeout=120):
    """Runs sql (statements, psql meta-commands) through psql against the
    database at url, unaligned and without headers; returns its stdout."""
    r = subprocess.run([PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url],
                       input=sql, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, "psql failed: %s\n%s" % (r.stderr, sql[:2000])
    return r.stdout


def rows(url, sql):
    """The rows sql returns from the database at url, as tuples of text
    (None for NULL)."""
    out = psql_url(url, "\\pset fieldsep '\\t'\n\\pset null '<NULL>'\n" + sql + ";\n")
    return [tuple(None if v == "<NULL>" else v for v in line.split("\t")) for line in out.splitlines() if line]


def new_pg_db(prefix="fm"):
    """CREATE DATABASE fm_<prefix>_<random> and return its URL."""
    name = "%s_%s" % (prefix, uuid.uuid4().hex[:10])
    psql('CREATE DATABASE "%s"' % name)
    return _with_db(pg_url(), name)


def pgctl(cmd, timeout=90):
    r = subprocess.run([pg_ctl(), cmd], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def pg_running():
    rc, _ = pgctl("status", timeout=30)
    return rc == 0


def ensure_pg_running():
    """Start the shared cluster again if it is down (other tests need it)."""
    if not pg_running():
        rc, out = pgctl("start")
        assert rc == 0, "could not start PostgreSQL again: %s" % out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def seed(db_url, seed_n, admin_token, **counts):
    args = [binary(), "seed", "--db", db_url, "--seed", str(seed_n), "--admin-token", admin_token]
    for k, v in counts.items():
        args += ["--" + k, str(v)]
    r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "%s -> %d\n%s" % (" ".join(args), r.returncode, r.stderr[-3000:])
    for m in SANITIZER_MARKERS:
        assert m not in r.stderr, "sanitizer report from seed:\n" + r.stderr[-6000:]
    return r.stderr


class Resp:
    def __init__(self, status, headers, body, elapsed=0.0):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError as e:
            raise AssertionError("response is not JSON: %r (%s)" % (self.body[:300], e))

    def __repr__(self):
        return "<Resp %s %r>" % (self.status, self.body[:500])


def request(port, method, target, token=None, body=None, headers=None, timeout=30):
    """One request on a fresh connection.  target is path + query string,
    sent as given.  Raises OSError / http.client exceptions on transport
    failure."""
    hdrs = {}
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    if headers:
        hdrs.update(headers)
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, target, body=data, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        return Resp(r.status, r.getheaders(), raw, time.monotonic() - t0)
    finally:
        conn.close()


class Client:
    def __init__(self, port, token=None):
        self.port = port
        self.token = token

    def req(self, method, target, body=None, **kw):
        return request(self.port, method, target, token=self.token, body=body, **kw)

    def get(self, target, **kw):
        return self.req("GET", target, **kw)

    def post(self, target, body=None, **kw):
        return self.req("POST", target, body=body, **kw)

    def patch(self, target, body=None, **kw):
        return self.req("PATCH", target, body=body, **kw)

    def ok(self, method, target, body=None, expect=None):
        r = self.req(method, target, body=body)
        exp = expect or {"GET": 200, "POST": 201, "PATCH": 200}[method]
        assert r.status == exp, "%s %s %r -> %r" % (method, target, body, r)
        return r.json


class Server:
    """A `firemode serve` process on a free loopback port.  start() spawns
    it (optionally without waiting); wait_healthy() waits for /healthz;
    terminate() sends SIGTERM and asserts exit 0 within 15 s and a clean
    stderr."""

    def __init__(self, db_url, workdir, node_id="pg-a", admin_token=None, threads=4):
        self.db_url = db_url
        self.workdir = str(workdir)
        self.node_id = node_id
        self.admin_token = admin_token
        self.threads = threads
        self.proc = None
        self.port = None
        self.stderr_path = None

    def spawn(self):
        self.port = free_port()
        self.stderr_path = os.path.join(self.workdir, "server-%s-%d.stderr" % (self.node_id, self.port))
        env = dict(os.environ)
        for k in ("FIREMODE_DB", "FIREMODE_LISTEN", "FIREMODE_NODE_ID", "FIREMODE_THREADS", "FIREMODE_ADMIN_TOKEN"):
            env.pop(k, None)
        if self.admin_token:
            env["FIREMODE_ADMIN_TOKEN"] = self.admin_token
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        args = [binary(), "serve", "--db", self.db_url, "--listen", "127.0.0.1:%d" % self.port,
                "--node-id", self.node_id, "--threads", str(self.threads)]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=err, stderr=err, cwd=self.workdir,
                                         env=env)
        return self

    def wait_healthy(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server %s exited with %s before /healthz; stderr:\n%s"
                                     % (self.node_id, self.proc.returncode, self.stderr()[-4000:]))
            try:
                if request(self.port, "GET", "/healthz", timeout=2).status == 200:
                    return self
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        raise AssertionError("server %s not healthy within %ss; stderr:\n%s"
                             % (self.node_id, timeout, self.stderr()[-4000:]))

    def start(self, timeout=20.0):
        return self.spawn().wait_healthy(timeout)

    def client(self, token=None):
        return Client(self.port, token)

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def check_sanitizers(self):
        text = self.stderr()
        for m in SANITIZER_MARKERS:
            assert m not in text, "sanitizer report (%r) in server %s stderr:\n%s" % (m, self.node_id, text[-6000:])

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout=15.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server %s did not exit within %ss of SIGTERM; stderr tail:\n%s"
                                     % (self.node_id, timeout, self.stderr()[-3000:]))
        self.check_sanitizers()
        assert self.proc.returncode == 0, "server %s exit code %s after SIGTERM; stderr tail:\n%s" % (
            self.node_id, self.proc.returncode, self.stderr()[-3000:])


def stop_all(servers):
    """Terminates every server; raises one AssertionError naming all failures."""
    errors = []
    for s in servers:
        try:
            s.terminate()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        raise AssertionError("\n\n".join(errors))
