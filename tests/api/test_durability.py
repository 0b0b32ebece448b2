"""CONTRACT §1, §6, §7 — the process: a write answered 2xx survives kill -9;
SIGTERM exits 0 (idle, and after finishing what is in flight); restarts
keep data; a second server (another node id) on the same database bumps
its own vector-clock entry."""
import json
import signal
import socket
import threading
import time

from fm import Client, read_response, unique

B1 = "0190f5a4-0000-7000-8000-000000000001"


def test_sigterm_idle_exits_0(spawn):
    s = spawn()
    s.terminate(timeout=15)
    assert s.returncode == 0


def test_2xx_writes_survive_kill9(spawn):
    db = spawn.new_db()
    s = spawn(db_url=db)
    a = s.admin()
    user = a.post("/users", {"email": unique("dur") + "@example.com"}).json
    tok = a.post("/users/%s/tokens" % user["user_id"]).json["token"]
    uc = Client(s.port, tok)
    ws = uc.post("/workspaces", {"name": "durable"}).json
    base = "/workspaces/%s" % ws["workspace_id"]
    cfg = uc.post(base + "/configs", {"slug": "c", "title": "t"}).json
    gone = uc.post(base + "/configs", {"slug": "gone", "title": "t"}).json
    assert uc.delete(base + "/configs/%s" % gone["config_id"]).status == 204
    job = uc.post(base + "/jobs", {"config_id": cfg["config_id"]}).json
    assert uc.patch(base + "/jobs/%s" % job["job_id"], {"status": "running"}).status == 200
    sess = uc.post("/v1/tests/sessions", {"building_id": B1}).json
    assert uc.put("/v1/tests/sessions/%s" % sess["id"], {"building_id": B1, "status": "completed"}).status == 200

    # a burst of concurrent creates; every one answered 201 must survive
    created, errors = [], []
    lock = threading.Lock()

    def writer(n):
        c = Client(s.port, tok)
        for i in range(12):
            r = c.post(base + "/documents", {"original_filename": "w%d-%d" % (n, i), "byte_size": i, "tags": ["t"]})
            with lock:
                (created if r.status == 201 else errors).append(r.json.get("document_id") or r)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    last = uc.post(base + "/documents", {"original_filename": "last", "byte_size": 1})
    assert last.status == 201
    s.kill9()  # right after the last 201

    s2 = spawn(db_url=db, admin_token=s.admin_token)
    uc2 = Client(s2.port, tok)
    assert uc2.get("/me").json["user_id"] == user["user_id"]
    r = uc2.get(base + "/documents", params={"page_size": 100, "include_total": "true"})
    assert r.status == 200
    ids = {d["document_id"] for d in r.json["items"]}
    assert set(created) | {last.json["document_id"]} <= ids
    assert r.json["total"] == len(created) + 1
    assert uc2.get(base + "/documents/%s" % last.json["document_id"]).json["original_filename"] == "last"
    assert uc2.get(base + "/jobs/%s" % job["job_id"]).json["status"] == "running"
    assert uc2.get(base + "/configs/%s" % gone["config_id"]).status == 404
    assert uc2.get("/v1/tests/sessions/%s" % sess["id"]).json["status"] == "completed"
    assert uc2.get(base + "/documents", params={"tag_in": "t", "include_total": "1"}).json["total"] == len(created)


def test_restart_keeps_data_and_clocks(spawn):
    db = spawn.new_db()
    s = spawn(db_url=db, node_id="node-a")
    a = s.admin()
    ws = a.post("/workspaces", {"name": "clocks"}).json
    base = "/workspaces/%s" % ws["workspace_id"]
    doc = a.post(base + "/documents", {"original_filename": "a", "byte_size": 1}).json
    assert doc["vector_clock"] == {"node-a": 1}
    s.terminate()

    s2 = spawn(db_url=db, node_id="node-b", admin_token=s.admin_token)
    b = s2.admin()
    p = base + "/documents/%s" % doc["document_id"]
    assert b.get(p).json["vector_clock"] == {"node-a": 1}
    r = b.patch(p, {"byte_size": 2})
    assert r.status == 200 and r.json["vector_clock"] == {"node-a": 1, "node-b": 1}, r
    r = b.patch(p, {"byte_size": 3})
    assert r.json["vector_clock"] == {"node-a": 1, "node-b": 2}
    d2 = b.post(base + "/documents", {"original_filename": "b", "byte_size": 1}).json
    assert d2["vector_clock"] == {"node-b": 1}
    assert b.delete(p).status == 204
    assert b.get(p, params={"include_deleted": "true"}).json["vector_clock"] == {"node-a": 1, "node-b": 3}


def test_sigterm_finishes_request_in_flight(spawn):
    db = spawn.new_db()
    s = spawn(db_url=db)
    body = json.dumps({"name": "in-flight"}).encode()
    head = ("POST /workspaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (s.admin_token, len(body))).encode()
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=15)
    try:
        sock.sendall(head + body[:5])
        time.sleep(0.2)  # let the server read the head
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # let it start shutting down
        try:
            sock.sendall(body[5:])
        except OSError:
            pass
        r = read_response(sock, "POST")
    finally:
        sock.close()
    assert r is not None and r.status == 201, r
    s.proc.wait(15)
    s.returncode = s.proc.returncode
    assert s.returncode == 0, s.stderr()[-2000:]
    s.check_sanitizers()
    s2 = spawn(db_url=db, admin_token=s.admin_token)
    names = [w["name"] for w in s2.admin().get("/workspaces", params={"q": "in-flight"}).json["items"]]
    assert names == ["in-flight"]


def test_sigterm_after_traffic_exits_0(spawn):
    s = spawn()
    a = s.admin()
    for i in range(5):
        assert a.post("/workspaces", {"name": "w%d" % i}).status == 201
    # an idle keep-alive connection must not hold the shutdown up forever
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=15)
    sock.sendall(("GET /me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % s.admin_token).encode())
    assert read_response(sock).status == 200
    try:
        s.terminate(timeout=15)
    finally:
        sock.close()
