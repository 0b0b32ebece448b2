"""Helpers for the black-box API tests: a tiny HTTP client, raw-socket
requests, a handle on a running server process, and the collection tables
of CONTRACT.md §4 that the grammar tests walk.

Only the standard library is used.  Every request opens its own connection
(http.client), so a test never depends on keep-alive behaviour unless it
asks for it through the raw helpers.
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

from openapi_check import CHECK

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

_UNSET = object()


def unique(prefix="x"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def unique_email(prefix="u"):
    return "%s@example.com" % unique(prefix)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def qs(params):
    """Build a query string from a list of (key, value) pairs or a dict.
    Values are percent-encoded; ',' is left literal so CSV lists look like
    what a user would type."""
    if params is None:
        return ""
    if isinstance(params, dict):
        params = list(params.items())
    if not params:
        return ""
    parts = []
    for k, v in params:
        if isinstance(v, bool):
            v = "true" if v else "false"
        parts.append("%s=%s" % (urllib.parse.quote(str(k), safe="_-"), urllib.parse.quote(str(v), safe=",-_.:")))
    return "?" + "&".join(parts)


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body
        self._json = _UNSET

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        if self._json is _UNSET:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except ValueError as e:
                raise AssertionError("response is not JSON: %r (%s)" % (self.body[:300], e))
        return self._json

    @property
    def items(self):
        return self.json["items"]

    def allow(self):
        v = self.header("Allow")
        assert v is not None, "no Allow header in %r" % (self,)
        return {m.strip() for m in v.split(",") if m.strip()}

    def __repr__(self):
        return "<Resp %s %r>" % (self.status, self.body[:600])


class Client:
    """One identity against one server.  token=None sends no Authorization."""

    def __init__(self, port, token=None, host="127.0.0.1"):
        self.host = host
        self.port = port
        self.token = token

    def with_token(self, token):
        return Client(self.port, token, self.host)

    def request(self, method, path, json_body=_UNSET, params=None, headers=None, body=None, token=_UNSET,
                timeout=30):
        hdrs = {}
        tok = self.token if token is _UNSET else token
        if tok is not None:
            hdrs["Authorization"] = "Bearer " + tok
        if json_body is not _UNSET:
            body = json.dumps(json_body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        if isinstance(body, str):
            body = body.encode("utf-8")
        url = path + qs(params)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, url, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            resp = Resp(r.status, r.getheaders(), data)
        finally:
            conn.close()
        CHECK.check(method, url, resp, lambda: fetch_openapi(self.host, self.port))
        return resp

    def get(self, path, params=None, **kw):
        return self.request("GET", path, params=params, **kw)

    def head(self, path, params=None, **kw):
        return self.request("HEAD", path, params=params, **kw)

    def post(self, path, json_body=_UNSET, **kw):
        return self.request("POST", path, json_body=json_body, **kw)

    def patch(self, path, json_body=_UNSET, **kw):
        return self.request("PATCH", path, json_body=json_body, **kw)

    def put(self, path, json_body=_UNSET, **kw):
        return self.request("PUT", path, json_body=json_body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def options(self, path, **kw):
        return self.request("OPTIONS", path, **kw)

    # ---- shorthands that assert success ---------------------------------

    def ok(self, method, path, json_body=_UNSET, params=None, expect=None):
        r = self.request(method, path, json_body=json_body, params=params)
        exp = expect or {"GET": 200, "POST": 201, "PATCH": 200, "PUT": 200, "DELETE": 204}[method]
        assert r.status == exp, "%s %s%s -> %r" % (method, path, qs(params), r)
        return r.json if r.body else None

    def list(self, path, params=None):
        return self.ok("GET", path, params=params)

    def list_ids(self, path, pk, params=None):
        return [it[pk] for it in self.list(path, params)["items"]]


def fetch_openapi(host, port):
    """The server's OpenAPI document (not itself checked)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("GET", "/openapi.json")
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200, "GET /openapi.json -> %s %r" % (r.status, body[:300])
        return json.loads(body.decode("utf-8"))
    finally:
        conn.close()


def raw_request(port, data, timeout=15, method_hint="GET", read=True):
    """Send raw bytes on a fresh connection and parse one response.  Send
    errors (the server may answer and close before reading everything) are
    ignored as long as a response can still be read.  Returns a Resp, or
    None when the server closed without answering."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if not read:
            return None
        resp = read_response(s, method_hint)
    finally:
        s.close()
    CHECK.check_raw(data, resp, lambda: fetch_openapi("127.0.0.1", port))
    return resp


def slow_socket(port, rcvbuf=4096, timeout=20):
    """A connection to 127.0.0.1:port whose receive buffer is set to rcvbuf
    before it connects (so the window it offers is small), or left to the
    kernel when rcvbuf is None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def read_all(sock, limit=8 << 20, bufsize=65536, timeout=5):
    """Everything the server sends on sock until it closes (or `timeout`
    seconds of silence, or a reset), at most `limit` bytes, read `bufsize`
    bytes at a time (a small one makes a slow reader)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while len(data) < limit:
            chunk = sock.recv(bufsize)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def split_answers(data, methods):
    """The answers of a pipelined stream, one per request method in
    `methods` (a 100 Continue counts as one): [(status, head, body)], each
    framed by its Content-Length (none after HEAD, 1xx, 204 and 304).
    Every byte must belong to an answer."""
    out = []
    for m in methods:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, (m, data[:300])
        status = int(head.split(b" ", 2)[1])
        cl = re.search(rb"\r\nContent-Length: (\d+)", head)
        n = 0 if m == "HEAD" or status < 200 or status in (204, 304) else int(cl.group(1))
        assert len(rest) >= n, (m, status, len(rest), n)
        out.append((status, head, rest[:n]))
        data = rest[n:]
    assert data == b"", data[:300]
    return out


def read_response(sock, method_hint="GET"):
    r = http.client.HTTPResponse(sock, method=method_hint)
    try:
        r.begin()
    except (http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine):
        return None
    try:
        body = r.read()
    except (http.client.IncompleteRead, ConnectionResetError) as e:
        body = getattr(e, "partial", b"")
    return Resp(r.status, r.getheaders(), body)


def assert_422(r, loc0=None, field=None):
    """A FastAPI-shaped validation error; optionally some entry's loc is
    [loc0, field, ...]."""
    assert r.status == 422, r
    d = r.json.get("detail")
    assert isinstance(d, list) and d, "422 detail must be a non-empty list: %r" % (r,)
    for e in d:
        assert isinstance(e, dict), r
        assert isinstance(e.get("loc"), list) and e["loc"], r
        assert e["loc"][0] in ("query", "body", "path", "header"), r
        assert isinstance(e.get("msg"), str) and e["msg"], r
        assert isinstance(e.get("type"), str) and e["type"], r
    if loc0 is not None:
        assert any(e["loc"][0] == loc0 for e in d), r
    if field is not None:
        assert any(len(e["loc"]) >= 2 and e["loc"][0] == loc0 and e["loc"][1] == field for e in d), r
    return d


def assert_422_any(r):
    """422 with a detail, either FastAPI list or string."""
    assert r.status == 422, r
    d = r.json.get("detail")
    assert d, r
    if isinstance(d, list):
        return assert_422(r)
    assert isinstance(d, str), r
    return d


def assert_error(r, status):
    assert r.status == status, r
    d = r.json
    assert isinstance(d, dict) and isinstance(d.get("detail"), str) and d["detail"], r
    return d["detail"]


def location_path(r):
    loc = r.header("Location")
    assert loc, "201 without Location: %r" % (r,)
    p = urllib.parse.urlsplit(loc).path
    return p.rstrip("/")


# ---- the server process ----------------------------------------------------


def binary():
    b = os.environ.get("FIREMODE_BIN") or "build/firemode"
    if os.path.isabs(b):
        return b
    for cand in (os.path.abspath(b), os.path.join(REPO, b)):
        if os.path.exists(cand):
            return cand
    return os.path.join(REPO, b)


def backend():
    return os.environ.get("FIREMODE_TEST_BACKEND", "sqlite")


def new_db_url(tmpdir):
    """A fresh, empty database for one server (or one server lineage)."""
    if backend() == "postgres":
        base = os.environ.get("FIREMODE_TEST_PG")
        if not base:
            raise RuntimeError("FIREMODE_TEST_BACKEND=postgres needs FIREMODE_TEST_PG")
        name = "fm_" + uuid.uuid4().hex[:16]
        subprocess.run(["psql", base, "-q", "-v", "ON_ERROR_STOP=1", "-c", "CREATE DATABASE %s" % name],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        parts = urllib.parse.urlsplit(base)
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    if backend() != "sqlite":
        raise RuntimeError("unknown FIREMODE_TEST_BACKEND %r" % backend())
    import tempfile
    d = tempfile.mkdtemp(prefix="db-", dir=str(tmpdir))
    return "sqlite:%s" % os.path.join(d, "fm.db")


class Server:
    """A `firemode serve` process on a free loopback port."""

    def __init__(self, db_url, workdir, node_id="test-a", admin_token=None, threads=4, extra_env=None,
                 args_fn=None, env_fn=None, port=None):
        self.db_url = db_url
        self.workdir = str(workdir)
        self.node_id = node_id
        self.admin_token = admin_token or ("adm-" + uuid.uuid4().hex)
        self.threads = threads
        self.extra_env = extra_env or {}
        self.args_fn = args_fn  # (server) -> argv after "serve", instead of the usual flags
        self.env_fn = env_fn  # (server) -> extra environment
        self.proc = None
        self.fixed_port = port
        self.port = None
        self.stderr_path = None
        self.killed = False
        self.returncode = None

    def start(self, timeout=10.0):
        last = None
        for attempt in range(3):
            self.port = self.fixed_port or free_port()
            self.stderr_path = os.path.join(self.workdir, "server-%s-%d-%d.stderr" % (self.node_id, self.port, attempt))
            env = dict(os.environ)
            for k in ("FIREMODE_DB", "FIREMODE_LISTEN", "FIREMODE_NODE_ID", "FIREMODE_THREADS"):
                env.pop(k, None)
            env["FIREMODE_ADMIN_TOKEN"] = self.admin_token
            env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
            env.update(self.extra_env)
            if self.env_fn:
                env.update(self.env_fn(self))
            args = [binary(), "serve"]
            if self.args_fn:
                args += self.args_fn(self)
            else:
                args += ["--db", self.db_url, "--listen", "127.0.0.1:%d" % self.port, "--node-id", self.node_id,
                         "--threads", str(self.threads)]
            with open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                             cwd=self.workdir, env=env)
            if self._wait_ready(timeout):
                return self
            last = self.stderr()
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if "in use" not in last.lower() and "bind" not in last.lower():
                break
        raise AssertionError("server did not become healthy; stderr:\n%s" % last)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r = Client(self.port).get("/healthz", timeout=2)
                if r.status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def client(self, token=None):
        return Client(self.port, token)

    def admin(self):
        return Client(self.port, self.admin_token)

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def sanitizer_report(self):
        text = self.stderr()
        for m in SANITIZER_MARKERS:
            if m in text:
                return text
        return None

    def check_sanitizers(self):
        rep = self.sanitizer_report()
        assert rep is None, "sanitizer report in server stderr:\n%s" % rep[-6000:]

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout=15.0):
        """SIGTERM; asserts exit 0 within timeout and no sanitizer report."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not exit within %ss of SIGTERM; stderr tail:\n%s"
                                     % (timeout, self.stderr()[-3000:]))
        self.returncode = self.proc.returncode
        self.check_sanitizers()
        assert self.returncode == 0, "server exit code %s after SIGTERM; stderr tail:\n%s" % (
            self.returncode, self.stderr()[-3000:])

    def kill9(self):
        self.killed = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(15)
        self.returncode = self.proc.returncode


# ---- the collections of CONTRACT.md §4 -----------------------------------

SORTS = {
    "users": ["id", "created_at", "updated_at", "email", "display_name", "last_login_at"],
    "workspaces": ["id", "created_at", "name"],
    "documents": ["id", "created_at", "last_run_at", "byte_size", "original_filename", "status"],
    "jobs": ["id", "created_at", "queued_at", "started_at", "completed_at", "status"],
    "configs": ["id", "created_at", "updated_at", "slug", "title"],
}

FILTERS = {
    "users": ["q", "is_active", "is_service_account", "created_at_from", "created_at_to", "last_login_from",
              "last_login_to", "display_name_is_null", "last_login_at_is_null"],
    "workspaces": ["q"],
    "documents": ["status_in", "source_in", "uploaded_by_user_id", "created_at_from", "created_at_to",
                  "last_run_from", "last_run_to", "q", "include_deleted", "tag_in", "last_run_at_is_null"],
    "jobs": ["status_in", "config_id", "config_version_id", "submitted_by_user_id", "trace_id", "retry_of_job_id",
             "created_at_from", "created_at_to", "config_version_id_is_null", "trace_id_is_null",
             "retry_of_job_id_is_null", "started_at_is_null", "completed_at_is_null"],
    "configs": ["slug", "title", "created_by_user_id", "created_at_from", "created_at_to", "include_deleted"],
}

COMMON_PARAMS = ["page", "page_size", "include_total", "sort"]

PK = {"users": "user_id", "workspaces": "workspace_id", "documents": "document_id", "jobs": "job_id",
      "configs": "config_id"}

# A valid value for each filter (used to probe "given twice" and similar).
FILTER_SAMPLE = {
    "q": "ab", "is_active": "true", "is_service_account": "false",
    "created_at_from": "2020-01-01", "created_at_to": "2030-01-01",
    "last_login_from": "2020-01-01", "last_login_to": "2030-01-01",
    "last_run_from": "2020-01-01", "last_run_to": "2030-01-01",
    "display_name_is_null": "false", "last_login_at_is_null": "false", "last_run_at_is_null": "false",
    "status_in": None,  # per collection
    "source_in": "upload", "uploaded_by_user_id": "00000000-0000-7000-8000-000000000000",
    "include_deleted": "true", "tag_in": "t",
    "config_id": "00000000-0000-7000-8000-000000000000", "config_version_id": "v1",
    "submitted_by_user_id": "00000000-0000-7000-8000-000000000000", "trace_id": "t1",
    "retry_of_job_id": "00000000-0000-7000-8000-000000000000",
    "config_version_id_is_null": "true", "trace_id_is_null": "true", "retry_of_job_id_is_null": "true",
    "started_at_is_null": "true", "completed_at_is_null": "true",
    "slug": "abc", "title": "ab", "created_by_user_id": "00000000-0000-7000-8000-000000000000",
}
STATUS_SAMPLE = {"documents": "uploaded", "jobs": "queued"}


def filter_sample(coll, name):
    if name == "status_in":
        return STATUS_SAMPLE[coll]
    return FILTER_SAMPLE[name]


def sorted_bytes(strings):
    return sorted(strings, key=lambda s: s.encode("utf-8"))
