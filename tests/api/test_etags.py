"""Vector clocks as ETags (CONTRACT.md §6, §8 "ETags"): ETag on every single
item answer, If-None-Match (304), If-Match on PUT, PATCH and DELETE with the
comparison S <= C / C < S / concurrent, invalid clocks, merges, and races.
"""
import concurrent.futures
import json

import pytest

from fm import unique

NODE = "test-a"  # the session server's --node-id (conftest)


def etag_of(clock):
    """The ETag the server must make for a clock: entries in byte order."""
    return '"%s"' % ";".join("%s=%d" % (k, clock[k]) for k in sorted(clock, key=lambda s: s.encode()) if clock[k])


def item_path(ws, coll, item):
    return ws.path(coll, item[{"documents": "document_id", "configs": "config_id", "jobs": "job_id"}[coll]])


@pytest.fixture
def doc(ws):
    return ws.doc(original_filename="etag.txt", byte_size=10)


def test_every_item_answer_has_the_etag_of_its_clock(api, ws, doc):
    r = ws.c.get(item_path(ws, "documents", doc))
    assert r.status == 200
    assert r.header("ETag") == etag_of(r.json["vector_clock"]) == etag_of({NODE: 1})
    # POST 201
    r = ws.c.post(ws.path("documents"), {"original_filename": "a", "byte_size": 1})
    assert r.status == 201 and r.header("ETag") == etag_of(r.json["vector_clock"])
    # PATCH 200: the new clock, and two GETs after it give that ETag
    r = ws.c.patch(item_path(ws, "documents", doc), {"byte_size": 11})
    assert r.status == 200 and r.json["vector_clock"] == {NODE: 2}
    tag = r.header("ETag")
    assert tag == etag_of({NODE: 2})
    assert ws.c.get(item_path(ws, "documents", doc)).header("ETag") == tag
    assert ws.c.get(item_path(ws, "documents", doc)).header("ETag") == tag
    # HEAD and /me and a session's PUT
    assert ws.c.head(item_path(ws, "documents", doc)).header("ETag") == tag
    me = ws.c.get("/me")
    assert me.header("ETag") == etag_of(me.json["vector_clock"])
    s = api.session(ws.c)
    r = ws.c.put("/v1/tests/sessions/%s" % s["id"], {"building_id": s["building_id"], "status": "completed"})
    assert r.status == 200 and r.header("ETag") == etag_of({NODE: 2})
    # a strong, quoted entity-tag: nothing outside etagc
    assert tag.startswith('"') and tag.endswith('"') and '"' not in tag[1:-1] and not tag.startswith("W/")


def test_if_none_match(ws, doc):
    path = item_path(ws, "documents", doc)
    tag = ws.c.get(path).header("ETag")
    for value in (tag, "W/" + tag, '"x=1", ' + tag, "*"):
        for method in ("GET", "HEAD"):
            r = ws.c.request(method, path, headers={"If-None-Match": value})
            assert r.status == 304, (value, r)
            assert r.body == b"" and r.header("ETag") == tag
    r = ws.c.get(path, headers={"If-None-Match": '"%s=9"' % NODE})
    assert r.status == 200 and r.json["document_id"] == doc["document_id"]
    ws.c.patch(path, {"byte_size": 12})
    assert ws.c.get(path, headers={"If-None-Match": tag}).status == 200  # changed since


def test_if_match_applies_when_the_client_has_seen_every_write(ws, doc):
    path = item_path(ws, "documents", doc)
    tag = ws.c.get(path).header("ETag")
    r = ws.c.patch(path, {"byte_size": 20}, headers={"If-Match": tag})
    assert r.status == 200, r
    assert r.json["vector_clock"] == {NODE: 2}
    # the clock as bare JSON (FireMode v1 clients), `*`, and a list with one that matches
    r = ws.c.patch(path, {"byte_size": 21}, headers={"If-Match": json.dumps({NODE: 2})})
    assert r.status == 200 and r.json["vector_clock"] == {NODE: 3}
    r = ws.c.patch(path, {"byte_size": 22}, headers={"If-Match": "*"})
    assert r.status == 200 and r.json["vector_clock"] == {NODE: 4}
    r = ws.c.patch(path, {"byte_size": 23}, headers={"If-Match": '"%s=1", W/"%s=4", "%s=4"' % (NODE, NODE, NODE)})
    assert r.status == 200 and r.json["vector_clock"] == {NODE: 5}


def test_if_match_merges_the_client_clock(ws, doc):
    """stored := merge(stored, client clock), then this server's entry + 1."""
    path = item_path(ws, "documents", doc)
    r = ws.c.patch(path, {"byte_size": 3}, headers={"If-Match": json.dumps({NODE: 1, "phone-7": 4})})
    assert r.status == 200, r
    assert r.json["vector_clock"] == {NODE: 2, "phone-7": 4}
    assert r.header("ETag") == etag_of({NODE: 2, "phone-7": 4})


def assert_conflict(r, status, item_id, pk="document_id"):
    assert r.status == status, r
    assert set(r.json) == {"detail", "current"}, r.json
    assert isinstance(r.json["detail"], str) and r.json["detail"]
    assert r.json["current"][pk] == item_id
    assert r.header("ETag") == etag_of(r.json["current"]["vector_clock"])


def test_stale_is_412_and_concurrent_is_409_with_the_current_item(ws, doc):
    path = item_path(ws, "documents", doc)
    old = ws.c.get(path).header("ETag")
    ws.c.patch(path, {"byte_size": 30})  # someone else wrote
    for method, body in (("PATCH", {"byte_size": 31}), ("DELETE", None)):
        r = ws.c.request(method, path, json_body=body, headers={"If-Match": old}) if body else \
            ws.c.request(method, path, headers={"If-Match": old})
        assert_conflict(r, 412, doc["document_id"])
        assert r.json["current"]["byte_size"] == 30
    # concurrent: the client saw a write the server did not, and missed one it did
    r = ws.c.patch(path, {"byte_size": 32}, headers={"If-Match": json.dumps({NODE: 1, "other-node": 3})})
    assert_conflict(r, 409, doc["document_id"])
    r = ws.c.patch(path, {"byte_size": 32}, headers={"If-Match": etag_of({NODE: 1, "other-node": 3})})
    assert_conflict(r, 409, doc["document_id"])
    # nothing was written by the refused requests
    assert ws.c.get(path).json["byte_size"] == 30


def test_weak_etags_never_satisfy_if_match(ws, doc):
    path = item_path(ws, "documents", doc)
    tag = ws.c.get(path).header("ETag")
    r = ws.c.patch(path, {"byte_size": 5}, headers={"If-Match": "W/" + tag})
    assert_conflict(r, 412, doc["document_id"])


@pytest.mark.parametrize("value", [
    "garbage", '"%s=x"' % NODE, '"=1"', "{bad json", '{"a": -1}', '{"a": 1.5}', '{"a": "1"}',
    '{"a": 9007199254740992}', '{"a b": 1}', '{"%s": 1}' % ("n" * 65), "[1]", '"unterminated', '"a=1" "b=2"',
    json.dumps({"n%02d" % i: 1 for i in range(65)}),
])
def test_invalid_clock_in_if_match_is_412(ws, doc, value):
    path = item_path(ws, "documents", doc)
    r = ws.c.patch(path, {"byte_size": 6}, headers={"If-Match": value})
    assert_conflict(r, 412, doc["document_id"])
    assert r.json["detail"] == "Invalid vector clock in If-Match header"
    assert ws.c.get(path).json["byte_size"] == 10


def test_invalid_if_match_on_a_missing_item_is_404(ws):
    r = ws.c.patch(ws.path("documents", "0190c0de-0000-7000-8000-00000000dead"), {"byte_size": 1},
                   headers={"If-Match": "garbage"})
    assert r.status == 404


def test_a_clock_ahead_on_this_servers_own_entry_is_refused(ws, doc):
    """Nobody can have seen writes by this server that it never made: such a
    clock would wedge this server's counter for the item forever."""
    path = item_path(ws, "documents", doc)
    r = ws.c.patch(path, {"byte_size": 7}, headers={"If-Match": json.dumps({NODE: 9007199254740991})})
    assert_conflict(r, 412, doc["document_id"])
    assert r.json["detail"].startswith("Invalid vector clock in If-Match header")
    assert ws.c.patch(path, {"byte_size": 8}).status == 200
    # in a list, a made-up tag before the one read does not spoil it
    tag = ws.c.get(path).header("ETag")
    r = ws.c.patch(path, {"byte_size": 9}, headers={"If-Match": '"%s=99", %s' % (NODE, tag)})
    assert r.status == 200 and r.json["vector_clock"] == {NODE: 3}, r


MAX = 9007199254740991


def _two_servers(spawn):
    """Servers node-a and node-b on one new database, and a document node-a made."""
    db = spawn.new_db()
    a = spawn(db_url=db, node_id="node-a")
    b = spawn(db_url=db, node_id="node-b", admin_token=a.admin_token)
    ca, cb = a.admin(), b.admin()
    ws = ca.ok("POST", "/workspaces", {"name": unique("clk")})
    base = "/workspaces/%s/documents" % ws["workspace_id"]
    d = ca.ok("POST", base, {"original_filename": "c.txt", "byte_size": 1})
    return ca, cb, "%s/%s" % (base, d["document_id"])


def test_client_entries_fill_a_clock_to_48_and_servers_keep_the_rest(spawn):
    """Documented choice: a clock holds at most 64 entries, and the entries a
    client's clock adds may take it to 48; the last 16 are for servers'
    first writes of the item.  Else 63 made-up ids merged through node-a
    would leave node-b no 65th entry: its writes of the item would be 409s
    for ever.  (No entry is ever dropped, which could make an old version
    look new.)"""
    ca, cb, path = _two_servers(spawn)
    item = path.rsplit("/", 1)[1]
    devices = {"dev-%02d" % i: 1 for i in range(47)}
    r = ca.patch(path, {"byte_size": 2}, headers={"If-Match": json.dumps(dict(devices, **{"node-a": 1}))})
    assert r.status == 200 and len(r.json["vector_clock"]) == 48, r
    tag = r.header("ETag")
    for via in (ca, cb):
        r = via.patch(path, {"byte_size": 3}, headers={"If-Match": json.dumps(dict(devices, **{"node-a": 2, "dev-47": 1}))})
        assert_conflict(r, 409, item)
        assert r.json["detail"] == ("Conflict: the entries this vector clock adds would take the item's past 48, "
                                    "the last 16 of its 64 being for servers' own")
    assert ca.get(path).header("ETag") == tag
    # a server's own first write still fits, and so do the counts of entries it has
    r = cb.patch(path, {"byte_size": 4}, headers={"If-Match": tag})
    assert r.status == 200 and len(r.json["vector_clock"]) == 49 and r.json["vector_clock"]["node-b"] == 1, r
    r = ca.patch(path, {"byte_size": 5}, headers={"If-Match": json.dumps(dict(r.json["vector_clock"], **{"dev-00": 9}))})
    assert r.status == 200 and r.json["vector_clock"]["dev-00"] == 9 and r.json["vector_clock"]["node-a"] == 3, r
    # 65 entries are not a clock at all
    r = ca.patch(path, {"byte_size": 6}, headers={"If-Match": json.dumps({"n%02d" % i: 1 for i in range(65)})})
    assert_conflict(r, 412, item)


def test_a_client_may_not_raise_any_counter_past_2_to_the_32(spawn):
    """A counter near 2^53 merged into another server's entry, through any
    server, would wedge that server's counter for the item (no tick left);
    a server cannot tell which other ids are servers, so no counter a client
    raises may pass 2^32, and a server raised that far keeps 2^53 - 2^32
    writes to count."""
    ca, cb, path = _two_servers(spawn)
    item = path.rsplit("/", 1)[1]
    for clock in ({"node-a": MAX}, {"node-a": 1, "phone-7": 2 ** 32 + 1}):
        r = cb.patch(path, {"byte_size": 2}, headers={"If-Match": json.dumps(clock)})
        assert_conflict(r, 412, item)
        assert r.json["detail"] == "Invalid vector clock in If-Match header: a counter it raises is over 2^32"
    assert ca.get(path).json["vector_clock"] == {"node-a": 1}
    r = cb.patch(path, {"byte_size": 3}, headers={"If-Match": json.dumps({"node-a": 2 ** 32, "phone-7": 2 ** 32})})
    assert r.status == 200 and r.json["vector_clock"] == {"node-a": 2 ** 32, "node-b": 1, "phone-7": 2 ** 32}, r
    r = ca.patch(path, {"byte_size": 4})
    assert r.status == 200 and r.json["vector_clock"]["node-a"] == 2 ** 32 + 1, r
    # counters already stored are no limit: sending back what was read applies
    r = cb.patch(path, {"byte_size": 5}, headers={"If-Match": r.header("ETag")})
    assert r.status == 200 and r.json["vector_clock"]["node-b"] == 2, r


def test_if_match_on_an_item_deleted_since_is_412(ws, doc):
    path = item_path(ws, "documents", doc)
    tag = ws.c.get(path).header("ETag")
    assert ws.c.delete(path).status == 204
    r = ws.c.patch(path, {"byte_size": 1}, headers={"If-Match": tag})
    assert_conflict(r, 412, doc["document_id"])
    assert r.json["current"]["deleted_at"] is not None
    assert ws.c.patch(path, {"byte_size": 1}).status == 404  # without If-Match: simply gone


def race(n, send):
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return [f.result() for f in [pool.submit(send, i) for i in range(n)]]


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_twenty_racing_writes_with_one_etag_one_wins(api, user, method):
    """No lost update: exactly one 2xx, 19 x 412."""
    if method == "PUT":
        s = api.session(user.c)
        path, body = "/v1/tests/sessions/%s" % s["id"], {"building_id": s["building_id"], "status": "completed"}
    else:
        ws = api.workspace(owner=user)
        d = ws.doc()
        path, body = ws.path("documents", d["document_id"]), {"byte_size": 77}
    tag = user.c.get(path).header("ETag")

    def send(i):
        b = dict(body)
        if method == "PATCH":
            b["byte_size"] = 100 + i
        return user.c.request(method, path, json_body=b if method != "DELETE" else None,
                              headers={"If-Match": tag}) if method != "DELETE" else \
            user.c.request(method, path, headers={"If-Match": tag})

    results = race(20, send)
    statuses = sorted(r.status for r in results)
    ok = 204 if method == "DELETE" else 200
    assert statuses == [ok] + [412] * 19, statuses
    for r in results:
        if r.status == 412:
            assert set(r.json) == {"detail", "current"}


def test_writes_without_if_match_still_tick_the_clock_once_each(api, user):
    ws = api.workspace(owner=user)
    d = ws.doc()
    path = ws.path("documents", d["document_id"])
    results = race(10, lambda i: user.c.patch(path, {"byte_size": i}))
    assert all(r.status == 200 for r in results), [r.status for r in results]
    assert user.c.get(path).json["vector_clock"] == {NODE: 11}


def test_member_add_is_a_write_to_the_workspace(api, ws):
    before = ws.c.get("/workspaces/%s" % ws.id).json["vector_clock"]
    other = api.user()
    r = ws.c.post("/workspaces/%s/members" % ws.id, {"user_id": other.id})
    assert r.status == 201
    after = ws.c.get("/workspaces/%s" % ws.id).json["vector_clock"]
    assert after == {k: v + (1 if k == NODE else 0) for k, v in before.items()}
    # adding again changes nothing
    assert ws.c.post("/workspaces/%s/members" % ws.id, {"user_id": other.id}).status == 200
    assert ws.c.get("/workspaces/%s" % ws.id).json["vector_clock"] == after
    # an inactive user cannot be added
    gone = api.user()
    api.admin.patch("/users/%s" % gone.id, {"is_active": False})
    r = ws.c.post("/workspaces/%s/members" % ws.id, {"user_id": gone.id})
    assert r.status == 422 and r.json["detail"][0]["loc"] == ["body", "user_id"]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_require_if_match(spawn, how):
    """--require-if-match (or FIREMODE_REQUIRE_IF_MATCH): PUT, PATCH and DELETE
    without If-Match are a 428 naming the header; with it they go through."""
    if how == "flag":
        s = spawn(args_fn=lambda sv: ["--db", sv.db_url, "--listen", "127.0.0.1:%d" % sv.port, "--node-id", sv.node_id,
                                      "--require-if-match"])
    else:
        s = spawn(extra_env={"FIREMODE_REQUIRE_IF_MATCH": "true"})
    admin = s.admin()
    ws = admin.ok("POST", "/workspaces", {"name": unique("ws")})
    path = "/workspaces/%s/documents" % ws["workspace_id"]
    d = admin.ok("POST", path, {"original_filename": "a", "byte_size": 1})
    item = "%s/%s" % (path, d["document_id"])
    for method, body in (("PATCH", {"byte_size": 2}), ("DELETE", None)):
        r = admin.request(method, item, json_body=body) if body else admin.request(method, item)
        assert r.status == 428, r
        assert "If-Match" in r.json["detail"]
    sess = admin.ok("POST", "/v1/tests/sessions", {"building_id": "0190f5a4-0000-7000-8000-000000000001"})
    r = admin.put("/v1/tests/sessions/%s" % sess["id"], {"building_id": sess["building_id"]})
    assert r.status == 428
    tag = admin.get(item).header("ETag")
    r = admin.patch(item, {"byte_size": 2}, headers={"If-Match": tag})
    assert r.status == 200
    assert admin.delete(item, headers={"If-Match": r.header("ETag")}).status == 204
    # creates and reads need nothing
    assert admin.get(path).status == 200
