"""Answers resumed at any byte (review of 8261b24: head in one buffer, body in
another, one offset over both).  On loopback the kernel takes a 200 KB answer
in one sendmsg (the send buffer autotunes to MBs), so a slow reader alone never
makes the server resume; here an LD_PRELOAD shim (sendshim.c, built for the
test) cuts every sendmsg to a few bytes, or pins SO_SNDBUF so a slow reader
makes real EAGAIN / EPOLLOUT rounds.  Every answer of a pipelined mix (plain,
gzip, HEAD, 304, 204, 404, /healthz) and a 100 Continue must come out byte
for byte; the shim's counters prove the paths were taken."""
import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

import fm
from fm import Client, unique

pytestmark = pytest.mark.openapi_unchecked("pipelined raw requests")

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler for the sendmsg shim")
    out = str(tmp_path_factory.mktemp("shim") / "sendshim.so")
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", out, os.path.join(HERE, "sendshim.c")], check=True)
    return out


def _start(spawn, shim, **env):
    log = os.path.join(str(spawn.dir), "shim-%s.log" % unique("l"))
    e = {"LD_PRELOAD": shim, "FM_SHIM_LOG": log,
         "ASAN_OPTIONS": "abort_on_error=0:detect_leaks=1:verify_asan_link_order=0"}
    e.update({k: str(v) for k, v in env.items()})
    return spawn(extra_env=e), log


def _counts(s, log):
    s.terminate()  # SIGTERM, exit 0, no sanitizer report
    with open(log) as f:
        calls, partial, eagain, cont = map(int, f.read().split())
    return calls, partial, eagain, cont


def _fixtures(s):
    """A workspace with two configs; returns (admin client, config item path, its ETag, a path to DELETE)."""
    admin = s.admin()
    r = admin.post("/workspaces", {"name": unique("ws")})
    assert r.status == 201, r
    base = "/workspaces/%s/configs" % r.json["workspace_id"]
    items = []
    for _ in range(2):
        r = admin.post(base, {"slug": unique("cfg"), "title": "Config " + "x" * 150})
        assert r.status == 201, r
        items.append("%s/%s" % (base, r.json["config_id"]))
    tag = admin.get(items[0]).header("ETag")
    assert tag
    return admin, base, items[0], tag, items[1]


def _mix(s, ref, admin, base, item, tag, gone, rcvbuf=None, slow=False):
    auth = "Authorization: Bearer %s\r\n" % s.admin_token
    reqs = [
        ("GET", "/openapi.json", ""),
        ("GET", "/openapi.json", "Accept-Encoding: gzip\r\n"),
        ("HEAD", "/openapi.json", "Accept-Encoding: gzip\r\n"),
        ("GET", "/healthz", ""),
        ("GET", "/no/such/route", ""),
        ("GET", item, "If-None-Match: %s\r\n" % tag),
        ("GET", item, "Accept-Encoding: gzip\r\n"),
        ("GET", base, ""),
        ("DELETE", gone, ""),
        ("GET", "/openapi.json", "Connection: close\r\n"),
    ]
    wire = "".join("%s %s HTTP/1.1\r\nHost: x\r\n%s%s\r\n" % (m, p, auth, extra) for m, p, extra in reqs)
    c = fm.slow_socket(s.port, rcvbuf)
    try:
        c.sendall(wire.encode())
        if slow:
            time.sleep(0.3)  # not a timed assertion: only lets the server fill the window first
        data = fm.read_all(c, bufsize=1500 if slow else 65536, timeout=20)
    finally:
        c.close()
    got = fm.split_answers(data, [m for m, _, _ in reqs])
    st = [g[0] for g in got]
    assert st == [200, 200, 200, 200, 404, 304, 200, 200, 204, 200], st
    assert got[0][2] == ref
    assert gzip.decompress(got[1][2]) == ref
    assert int(re.search(rb"Content-Length: (\d+)", got[2][1]).group(1)) == len(got[1][2])
    assert json.loads(got[4][2])["detail"]
    body6 = got[6][2]
    if b"Content-Encoding: gzip" in got[6][1]:
        body6 = gzip.decompress(body6)
    assert json.loads(body6)["title"].startswith("Config ")
    assert json.loads(got[7][2])["items"]
    assert got[9][2] == ref


def _continue(s, body_obj):
    """POST with Expect: 100-continue on its own connection: 100, then 201."""
    body = json.dumps(body_obj).encode()
    c = socket.create_connection(("127.0.0.1", s.port), timeout=20)
    try:
        c.sendall(("POST /v1/tests/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n"
                   "Connection: close\r\n\r\n" % (s.admin_token, len(body))).encode())
        first = b""
        while len(first) < 25:
            chunk = c.recv(25 - len(first))
            assert chunk, first
            first += chunk
        assert first == b"HTTP/1.1 100 Continue\r\n\r\n", first
        c.sendall(body)
        data = fm.read_all(c, timeout=20)
    finally:
        c.close()
    (status, _, b), = fm.split_answers(data, ["POST"])
    assert status == 201, data[:300]
    assert json.loads(b)["building_id"] == body_obj["building_id"]


def test_answers_cut_into_few_byte_sends_arrive_whole(server, spawn, shim):
    ref = Client(server.port).get("/openapi.json").body
    s, log = _start(spawn, shim, FM_SHIM_MAX=13)
    admin, base, item, tag, gone = _fixtures(s)
    assert admin.get("/openapi.json").body == ref
    _mix(s, ref, admin, base, item, tag, gone)
    _continue(s, {"building_id": "0190f5a4-0000-7000-8000-000000000001"})
    calls, partial, eagain, cont = _counts(s, log)
    print("shim", calls, partial, eagain, cont)
    assert partial > 1000, (calls, partial, eagain)


def test_slow_reader_with_a_small_send_buffer_resumes_on_epollout(server, spawn, shim):
    ref = Client(server.port).get("/openapi.json").body
    s, log = _start(spawn, shim, FM_SHIM_SNDBUF=4096)
    admin, base, item, tag, gone = _fixtures(s)
    _mix(s, ref, admin, base, item, tag, gone, rcvbuf=4096, slow=True)
    calls, partial, eagain, cont = _counts(s, log)
    print("shim", calls, partial, eagain, cont)
    assert eagain > 0 and partial > 0, (calls, partial, eagain)


def test_100_continue_queued_behind_an_unsent_answer(server, spawn, shim):
    """A big answer is stuck in a small send buffer; behind it a POST with
    Expect: 100-continue whose body comes later: the 100 Continue may itself
    wait (then the 201 is appended behind it); the client reads everything in
    order: 200, 100, 201."""
    ref = Client(server.port).get("/openapi.json").body
    s, log = _start(spawn, shim, FM_SHIM_SNDBUF=4096)
    body = json.dumps({"building_id": "0190f5a4-0000-7000-8000-000000000002"}).encode()
    c = fm.slow_socket(s.port)
    try:
        c.sendall(("GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"
                   "POST /v1/tests/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n"
                   "Connection: close\r\n\r\n" % (s.admin_token, len(body))).encode())
        time.sleep(0.3)
        c.sendall(body)  # while the first answer is still unsent
        time.sleep(0.1)
        data = fm.read_all(c, bufsize=1500, timeout=20)
    finally:
        c.close()
    got = fm.split_answers(data, ["GET", "POST", "POST"])
    assert [g[0] for g in got] == [200, 100, 201], [g[0] for g in got]
    assert got[0][2] == ref
    assert json.loads(got[2][2])["building_id"] == "0190f5a4-0000-7000-8000-000000000002"
    calls, partial, eagain, cont = _counts(s, log)
    print("shim", calls, partial, eagain, cont)
    assert eagain > 0, (calls, partial, eagain)


def test_client_gone_mid_answer_and_sigterm_while_an_answer_waits(server, spawn, shim):
    """Under ASan: a connection closed while its body is half sent, and one
    still waiting on EPOLLOUT when SIGTERM comes, leak nothing and the server
    exits 0 (the spawn fixture checks both)."""
    s, log = _start(spawn, shim, FM_SHIM_SNDBUF=4096)
    req = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\nGET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"
    gone = fm.slow_socket(s.port, timeout=5)
    gone.sendall(req)
    assert gone.recv(100).startswith(b"HTTP/1.1 200")
    stuck = fm.slow_socket(s.port)
    stuck.sendall(req)
    time.sleep(0.3)
    gone.close()  # unread bytes: a reset, while the server waits for EPOLLOUT
    assert Client(s.port).get("/healthz").status == 200
    s.proc.send_signal(15)  # drain: the stuck answer is in flight; the client then reads it all
    data = fm.read_all(stuck, timeout=20)
    stuck.close()
    assert data.startswith(b"HTTP/1.1 200")
    s.returncode = s.proc.wait(timeout=30)
    assert s.returncode == 0
    s.check_sanitizers()
    with open(log) as f:
        calls, partial, eagain, cont = map(int, f.read().split())
    assert eagain > 0, (calls, partial, eagain)


def test_an_answer_appended_behind_an_unsent_100_continue(server, spawn, shim):
    """The 100 Continue cannot go (the shim fails its first two sends with
    EAGAIN); the client sends the body anyway (RFC 9110 allows it); the
    answer is then queued behind the unsent 100 (conn_answer's append
    branch, out_tail) and the client reads 100, then 201, whole."""
    s, log = _start(spawn, shim, FM_SHIM_CONT_EAGAIN=2)
    body = json.dumps({"building_id": "0190f5a4-0000-7000-8000-000000000003"}).encode()
    c = socket.create_connection(("127.0.0.1", s.port), timeout=20)
    try:
        c.sendall(("POST /v1/tests/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n"
                   "Connection: close\r\n\r\n" % (s.admin_token, len(body))).encode())
        time.sleep(0.3)  # the server tries its 100 Continue (and fails) before the body comes
        c.sendall(body)
        data = fm.read_all(c, timeout=20)
    finally:
        c.close()
    got = fm.split_answers(data, ["POST", "POST"])
    assert [g[0] for g in got] == [100, 201], data[:400]
    assert json.loads(got[1][2])["building_id"] == "0190f5a4-0000-7000-8000-000000000003"
    calls, partial, eagain, cont = _counts(s, log)
    print("shim", calls, partial, eagain, cont)
    assert cont == 2, (calls, partial, eagain, cont)


def test_sqlite_memory_one_worker_no_priority_worker(spawn):
    """45342f3 moved the choice of a priority worker to main (cfg.priority_worker):
    on sqlite::memory: the one worker also serves /readyz and /metrics, and
    the start-up line (now cfg.serving) still says what is served."""
    s = spawn(db_url="sqlite::memory:", threads=4)
    a = s.admin()
    w = a.post("/workspaces", {"name": "mem"})
    assert w.status == 201
    assert a.get("/readyz").status == 200
    assert a.get("/metrics").status == 200
    assert a.get("/workspaces/%s" % w.json["workspace_id"]).status == 200
    line = [ln for ln in s.stderr().splitlines() if "serving on" in ln][0]
    assert "(db sqlite::memory:, node %s, 1 threads)" % s.node_id in line, line
