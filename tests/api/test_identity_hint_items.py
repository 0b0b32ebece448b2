"""Issue 9 review — single items (GET, HEAD /…/{id}) on the identity hint: the edges a
hinted item must answer exactly as a fully checked request would (src/api/crud.c fetch_item,
src/api/api.c handle): error precedence with a bad query or If-None-Match, soft-deleted rows,
members removed, owners' test sessions, promotions, and another server on the same database."""
from fm import Client, assert_error

from test_identity_hint import WARM, hints, item_with_a_second_token, warm

MISSING = "0190c0de-89ab-7cde-8f01-23456789abcd"


def fresh(api, user_id):
    """A client whose first request is always checked in full (a new token: no hint)."""
    return api.client(api.token_for(user_id))


def same(a, b):
    assert a.status == b.status and a.body == b.body, (a, b)
    strip = {"date", "x-request-id"}
    ha = sorted((k.lower(), v) for k, v in a.headers if k.lower() not in strip)
    hb = sorted((k.lower(), v) for k, v in b.headers if k.lower() not in strip)
    assert ha == hb, (ha, hb)


def test_hinted_items_are_the_fully_checked_answers(api, user):
    ws = api.workspace(user)
    d = ws.doc(user.c)
    gone = ws.doc(user.c)
    assert user.c.delete(ws.path("documents", gone["document_id"])).status == 204
    s = api.session(user.c)
    paths = [ws.path("documents", d["document_id"]), "/workspaces/%s" % ws.id, "/users/%s" % user.id,
             "/v1/tests/sessions/%s" % s["id"]]
    for p in paths:
        warm(user.c, p)
    c0, _ = hints(api)
    for p in paths:
        for params in (None, {"include_deleted": "true"}) if "sessions" not in p and "users" not in p else (None,):
            for method in ("GET", "HEAD"):
                same(user.c.request(method, p, params=params), fresh(api, user.id).request(method, p, params=params))
        etag = user.c.get(p).header("ETag")
        same(user.c.get(p, headers={"If-None-Match": etag}), fresh(api, user.id).get(p, headers={"If-None-Match": etag}))
    c1, _ = hints(api)
    assert c1 > c0
    g = ws.path("documents", gone["document_id"])
    for params in (None, {"include_deleted": "true"}, {"include_deleted": "false"}):
        same(user.c.get(g, params=params), fresh(api, user.id).get(g, params=params))


def test_revoked_token_with_a_bad_query_or_if_none_match_on_an_item_is_401(api, user):
    ws, path, tok, c, r = item_with_a_second_token(api, user)
    etag = r.header("ETag")
    assert c.get(path, headers={"If-None-Match": etag}).status == 304
    assert api.admin.delete("/users/%s/tokens/%s" % (user.id, tok["token_id"])).status == 204
    for _ in range(WARM):
        assert_error(c.get(path, params={"include_deleted": "maybe"}), 401)
        r = c.get(path, headers={"If-None-Match": etag})
        assert_error(r, 401)
        assert r.header("ETag") is None, r
        h = c.request("HEAD", path, headers={"If-None-Match": etag})
        assert h.status == 401 and h.header("ETag") is None, h


def test_deactivated_user_with_if_none_match_is_403(api):
    u = api.user()
    ws = api.workspace(u)
    d = ws.doc(u.c)
    path = ws.path("documents", d["document_id"])
    etag = warm(u.c, path).header("ETag")
    assert api.admin.patch("/users/%s" % u.id, {"is_active": False}).status == 200
    for _ in range(WARM):
        r = u.c.get(path, headers={"If-None-Match": etag})
        assert_error(r, 403)
        assert r.header("ETag") is None, r


def test_removed_member_and_other_owners_items(api, user):
    ws = api.workspace()
    assert ws.c.post("/workspaces/%s/members" % ws.id, {"user_id": user.id}).status == 201
    d = ws.doc()
    path = ws.path("documents", d["document_id"])
    warm(user.c, path)
    warm(user.c, "/workspaces/%s" % ws.id)
    assert ws.c.delete("/workspaces/%s/members/%s" % (ws.id, user.id)).status == 204
    for _ in range(WARM):
        assert_error(user.c.get(path), 404)
        assert_error(user.c.get("/workspaces/%s" % ws.id), 404)
    other = api.user()
    s = api.session(other.c)
    mine = api.session(user.c)
    warm(user.c, "/v1/tests/sessions/%s" % mine["id"])
    for _ in range(WARM):
        assert_error(user.c.get("/v1/tests/sessions/%s" % s["id"]), 404)
        assert user.c.get("/v1/tests/sessions/%s" % mine["id"]).status == 200


def test_promoted_and_demoted_on_items(api):
    u = api.user()
    mine = api.workspace(u)
    md = mine.doc(u.c)
    other = api.workspace()
    od = other.doc()
    peer = api.user()
    warm(u.c, mine.path("documents", md["document_id"]))
    for _ in range(WARM):
        assert_error(u.c.get(other.path("documents", od["document_id"])), 404)
        assert_error(u.c.get("/users/%s" % peer.id), 404)
    assert api.admin.patch("/users/%s" % u.id, {"is_admin": True}).status == 200
    for _ in range(WARM):
        assert u.c.get(other.path("documents", od["document_id"])).status == 200
        assert u.c.get("/users/%s" % peer.id).status == 200
        assert u.c.get(mine.path("documents", md["document_id"])).status == 200
    assert api.admin.patch("/users/%s" % u.id, {"is_admin": False}).status == 200
    for _ in range(WARM):
        assert u.c.get(mine.path("documents", md["document_id"])).status == 200  # still a member
        assert_error(u.c.get(other.path("documents", od["document_id"])), 404)
        assert_error(u.c.get("/users/%s" % peer.id), 404)
        assert u.c.get("/users/%s" % u.id).json["is_admin"] is False


def test_another_server_on_the_same_database(api, user, spawn, server):
    b = spawn(server.db_url, node_id="test-b")
    ws = api.workspace(user)
    d = ws.doc(user.c)
    path = ws.path("documents", d["document_id"])
    tok = api.admin.post("/users/%s/tokens" % user.id).json
    cb = Client(b.port, tok["token"])
    warm(cb, path)
    warm(cb, "/users/%s" % user.id)
    assert api.admin.delete("/users/%s/tokens/%s" % (user.id, tok["token_id"])).status == 204  # on server a
    for _ in range(WARM):
        assert_error(cb.get(path), 401)
        assert_error(cb.get("/users/%s" % user.id), 401)
        assert_error(cb.get(ws.path("documents", MISSING)), 401)
