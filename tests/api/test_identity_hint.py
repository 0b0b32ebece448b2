"""Issue 9 — a list request takes its caller from the worker's identity hint and the list
statement itself confirms it (src/api/accounts.c, "the identity hint"): one statement instead of
two. Whatever the hint says, what the database says at the statement wins: a revoked token, a
deactivated user, a demoted or promoted admin count from the very next request on, on every
worker. firemode_auth_hints_total shows the hint was in use (so these tests test it)."""
import re

import pytest

from conftest import Api
from fm import assert_error

WARM = 24  # list requests after each change


@pytest.fixture
def api(spawn):
    """A server of its own with one worker.  Hints are kept per worker, and
    an idle worker is woken last in, first out, so on a server with several
    the requests after a change may all land on a worker that never held the
    hint: then nothing is refused and "r1 > r0" fails.  With one worker,
    every request meets the hint the one before it left."""
    return Api(spawn(threads=1))


def hints(api):
    text = api.admin.get("/metrics").body.decode()
    got = dict(re.findall(r'firemode_auth_hints_total\{outcome="(\w+)"\} (\d+)', text))
    return int(got.get("confirmed", 0)), int(got.get("refused", 0))


def warm(client, path):
    for _ in range(WARM):
        r = client.get(path)
        assert r.status == 200, r
    return r


def test_lists_answer_on_the_hint(api, user):
    ws = api.workspace(user)
    c0, _ = hints(api)
    warm(user.c, ws.path("documents"))
    c1, _ = hints(api)
    assert c1 - c0 >= WARM // 2  # most lists were one statement
    # the answers are the same as a fully checked request's
    a = user.c.get(ws.path("documents")).json
    assert a["items"] == [] and a["next_cursor"] is None


def test_revoked_token_is_refused_on_the_next_list(api, user):
    tok = api.admin.post("/users/%s/tokens" % user.id)
    assert tok.status == 201, tok
    c = api.client(tok.json["token"])
    warm(c, "/workspaces")
    _, r0 = hints(api)
    assert api.admin.delete("/users/%s/tokens/%s" % (user.id, tok.json["token_id"])).status == 204
    for _ in range(WARM):
        assert_error(c.get("/workspaces"), 401)
        assert_error(c.get("/v1/tests/sessions"), 401)
    _, r1 = hints(api)
    assert r1 > r0  # the hints were there, and refused


def test_deactivated_user_is_refused_on_the_next_list(api):
    u = api.user()
    ws = api.workspace(u)
    warm(u.c, ws.path("jobs"))
    assert api.admin.patch("/users/%s" % u.id, {"is_active": False}).status == 200
    for _ in range(WARM):
        assert_error(u.c.get(ws.path("jobs")), 403)
    assert api.admin.patch("/users/%s" % u.id, {"is_active": True}).status == 200
    warm(u.c, ws.path("jobs"))


def test_admin_flag_changes_count_at_once(api):
    u = api.user(admin=True)
    other = api.workspace()
    warm(u.c, "/users")
    warm(u.c, other.path("documents"))  # an admin sees every workspace's rows
    assert api.admin.patch("/users/%s" % u.id, {"is_admin": False}).status == 200
    for _ in range(WARM):
        assert_error(u.c.get("/users"), 403)
        assert_error(u.c.get(other.path("documents")), 404)
    assert api.admin.patch("/users/%s" % u.id, {"is_admin": True}).status == 200
    for _ in range(WARM):
        assert u.c.get("/users").status == 200
        assert u.c.get(other.path("documents")).status == 200


def test_bad_query_on_the_hint_is_the_same_422(api, user):
    warm(user.c, "/workspaces")
    r = user.c.get("/workspaces", params={"sort": "nope"})
    assert r.status == 422, r
    # and a revoked token with a bad query is a 401, not a 422
    tok = api.admin.post("/users/%s/tokens" % user.id).json
    c = api.client(tok["token"])
    warm(c, "/workspaces")
    assert api.admin.delete("/users/%s/tokens/%s" % (user.id, tok["token_id"])).status == 204
    for _ in range(WARM):
        assert_error(c.get("/workspaces", params={"sort": "nope"}), 401)


# ---- single items (GET and HEAD /…/{id}) answer on the hint too

def test_items_answer_on_the_hint(api, user):
    ws = api.workspace(user)
    d = ws.doc(user.c)
    path = ws.path("documents", d["document_id"])
    first = user.c.get(path)
    assert first.status == 200, first
    c0, _ = hints(api)
    for _ in range(WARM):
        r = user.c.get(path)
        assert r.status == 200 and r.json == first.json and r.header("ETag") == first.header("ETag"), r
        h = user.c.request("HEAD", path)
        assert h.status == 200 and h.body == b"", h
        nm = user.c.get(path, headers={"If-None-Match": first.header("ETag")})
        assert nm.status == 304, nm
    c1, _ = hints(api)
    assert c1 - c0 >= WARM  # most item GETs were one statement
    me = user.c.get("/users/%s" % user.id)
    assert me.status == 200 and me.json["user_id"] == user.id


def test_items_not_found_or_not_yours_on_the_hint(api, user):
    ws = api.workspace(user)
    other = api.user()
    warm(user.c, ws.path("documents"))
    for _ in range(WARM):
        assert_error(user.c.get(ws.path("documents", "0190c0de-89ab-7cde-8f01-23456789abcd")), 404)
        assert_error(user.c.get("/users/%s" % other.id), 404)  # someone else: not for a non-admin
        bad = user.c.get(ws.path("documents", "0190c0de-89ab-7cde-8f01-23456789abcd"), params={"include_deleted": "maybe"})
        assert bad.status == 422 and bad.json["detail"][0]["loc"] == ["query", "include_deleted"], bad
    assert user.c.get(ws.path("documents")).status == 200


def item_with_a_second_token(api, user):
    """A document of a new workspace of user's, and a second token of theirs (to revoke), whose
    hint is warm on it: (workspace, item path, token answer, its client, the last answer)."""
    ws = api.workspace(user)
    d = ws.doc(user.c)
    path = ws.path("documents", d["document_id"])
    tok = api.admin.post("/users/%s/tokens" % user.id).json
    c = api.client(tok["token"])
    return ws, path, tok, c, warm(c, path)


def test_items_count_a_revoked_token_and_a_changed_admin_flag_at_once(api, user):
    ws, path, tok, c, _ = item_with_a_second_token(api, user)
    _, r0 = hints(api)
    assert api.admin.delete("/users/%s/tokens/%s" % (user.id, tok["token_id"])).status == 204
    for _ in range(WARM):
        assert_error(c.get(path), 401)
        assert_error(c.get(ws.path("documents", "0190c0de-89ab-7cde-8f01-23456789abcd")), 401)
        assert c.request("HEAD", path).status == 401
    _, r1 = hints(api)
    assert r1 > r0
    # an admin who is demoted no longer sees another workspace's items, nor other users
    boss = api.user(admin=True)
    warm(boss.c, path)
    warm(boss.c, "/users/%s" % user.id)
    assert api.admin.patch("/users/%s" % boss.id, {"is_admin": False}).status == 200
    for _ in range(WARM):
        assert_error(boss.c.get(path), 404)
        assert_error(boss.c.get("/users/%s" % user.id), 404)
    # a user deactivated: 403 on their own item too
    assert api.admin.patch("/users/%s" % boss.id, {"is_active": False}).status == 200
    for _ in range(WARM):
        assert_error(boss.c.get("/users/%s" % boss.id), 403)
