"""CONTRACT §1, §2, §4, §8 — authentication, authorisation and visibility:
bearer tokens, 401/403, admin-only users, self access, tokens, workspaces
and membership, 404-not-403 for what the caller may not see, /metrics."""
import re

import pytest

from fm import UUID7_RE, assert_422, assert_error, unique_email

ZERO_UUID = "00000000-0000-7000-8000-000000000000"


# ---- 401 -------------------------------------------------------------------


AUTHED = ["/me", "/users", "/workspaces", "/metrics", "/v1/tests/sessions/%s" % ZERO_UUID,
          "/workspaces/%s/documents" % ZERO_UUID, "/users/%s" % ZERO_UUID]


@pytest.mark.parametrize("path", AUTHED)
@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer ", "Bearer nope", "Basic YWRtaW46YWRtaW4=",
                                  "bearer-less", "Token abc"])
def test_missing_or_unknown_token_is_401(anon, path, auth):
    headers = {"Authorization": auth} if auth is not None else {}
    r = anon.get(path, headers=headers)
    assert_error(r, 401)
    assert r.header("WWW-Authenticate") is not None and r.header("WWW-Authenticate").startswith("Bearer"), r


def test_401_on_writes_too(anon, ws):
    for method, path, body in (("POST", "/workspaces", {"name": "x"}), ("POST", ws.path("documents"), {}),
                               ("PATCH", ws.base, {"name": "y"}), ("POST", "/v1/tests/sessions", {}),
                               ("POST", "/users", {"email": unique_email()}),
                               ("POST", "/users/%s/tokens" % ws.owner.id, None)):
        r = anon.request(method, path, json_body=body) if body is not None else anon.request(method, path)
        assert_error(r, 401)
        assert r.header("WWW-Authenticate").startswith("Bearer")
    # nothing changed
    assert ws.c.get(ws.base).json["name"] == ws.obj["name"]


def test_bearer_scheme_case_insensitive(user):
    r = user.c.get("/me", token=None, headers={"Authorization": "bearer " + user.token})
    assert r.status == 200, r


def test_token_of_other_length_or_altered_is_401(user):
    for tok in (user.token + "x", user.token[:-1], user.token.upper() if user.token.upper() != user.token else "X"):
        assert_error(user.c.get("/me", token=tok), 401)


# ---- /me, admin token ------------------------------------------------------------


def test_me_is_the_caller(api, user):
    r = user.c.get("/me")
    assert r.status == 200, r
    assert r.json["user_id"] == user.id and r.json["email"] == user.email
    assert r.json["is_admin"] is False and r.json["is_active"] is True


def test_admin_token_authenticates_builtin_admin(admin):
    me = admin.get("/me").json
    assert me["email"] == "admin@firemode.local"
    assert me["is_admin"] is True and me["is_active"] is True


def test_ids_are_uuid7(api, ws):
    doc = ws.doc()
    for v in (ws.owner.id, ws.id, doc["document_id"]):
        assert UUID7_RE.match(v), v


# ---- users: admins only, self access ------------------------------------------------


def test_users_collection_is_admin_only(api, user):
    assert_error(user.c.get("/users"), 403)
    assert_error(user.c.post("/users", {"email": unique_email()}), 403)
    assert user.c.head("/users").status == 403
    assert api.admin.get("/users").status == 200


def test_user_sees_and_patches_self(user):
    r = user.c.get("/users/%s" % user.id)
    assert r.status == 200 and r.json["user_id"] == user.id
    r = user.c.patch("/users/%s" % user.id, {"display_name": "Me Myself"})
    assert r.status == 200 and r.json["display_name"] == "Me Myself", r


def test_user_cannot_see_or_patch_others(api, user):
    other = api.user()
    assert_error(user.c.get("/users/%s" % other.id), 404)
    assert_error(user.c.patch("/users/%s" % other.id, {"display_name": "hacked"}), 404)
    assert api.admin.get("/users/%s" % other.id).json["display_name"] is None
    # the admin can
    r = api.admin.patch("/users/%s" % other.id, {"display_name": "By Admin"})
    assert r.status == 200 and r.json["display_name"] == "By Admin"


@pytest.mark.parametrize("field", ["is_admin", "is_active", "is_service_account"])
def test_user_cannot_change_own_privileges(api, user, field):
    before = api.admin.get("/users/%s" % user.id).json
    r = user.c.patch("/users/%s" % user.id, {field: not before[field]})
    assert r.status in (403, 422), r
    after = api.admin.get("/users/%s" % user.id).json
    assert after[field] == before[field]


def test_admin_can_make_admin(api, user):
    r = api.admin.patch("/users/%s" % user.id, {"is_admin": True})
    assert r.status == 200 and r.json["is_admin"] is True
    assert user.c.get("/users").status == 200


# ---- tokens --------------------------------------------------------------------------


def test_token_by_admin(api, user):
    r = api.admin.post("/users/%s/tokens" % user.id)
    assert r.status == 201, r
    body = r.json
    assert set(body) >= {"token", "token_id", "user_id"}
    assert body["user_id"] == user.id
    assert isinstance(body["token"], str) and len(body["token"]) >= 16
    assert isinstance(body["token_id"], str) and body["token_id"]
    me = api.client(body["token"]).get("/me")
    assert me.status == 200 and me.json["user_id"] == user.id
    # the old token still works
    assert user.c.get("/me").status == 200


def test_token_by_self(api, user):
    r = user.c.post("/users/%s/tokens" % user.id)
    assert r.status == 201, r
    assert r.json["user_id"] == user.id
    assert r.json["token"] != user.token
    assert api.client(r.json["token"]).get("/me").json["user_id"] == user.id


def test_tokens_are_distinct(api, user):
    toks = {api.admin.post("/users/%s/tokens" % user.id).json["token"] for _ in range(3)}
    ids = {api.admin.post("/users/%s/tokens" % user.id).json["token_id"] for _ in range(3)}
    assert len(toks) == 3 and len(ids) == 3


def test_token_for_other_user_is_404(api, user):
    other = api.user()
    assert_error(user.c.post("/users/%s/tokens" % other.id), 404)
    assert_error(user.c.post("/users/%s/tokens" % ZERO_UUID), 404)
    assert_error(api.admin.post("/users/%s/tokens" % ZERO_UUID), 404)


def test_token_is_not_shown_again(api, user):
    tok = api.admin.post("/users/%s/tokens" % user.id).json["token"]
    for body in (api.admin.get("/users/%s" % user.id).text, user.c.get("/me").text,
                 api.admin.get("/users", params={"q": user.email}).text):
        assert tok not in body


# ---- inactive users -------------------------------------------------------------------


def test_inactive_user_gets_403_everywhere(api):
    u = api.user()
    ws = api.workspace(u)
    sess = api.session(u.c)
    r = api.admin.patch("/users/%s" % u.id, {"is_active": False})
    assert r.status == 200 and r.json["is_active"] is False, r
    for method, path, body in (("GET", "/me", None), ("GET", "/workspaces", None), ("GET", ws.base, None),
                               ("GET", ws.path("documents"), None), ("POST", "/workspaces", {"name": "x"}),
                               ("POST", ws.path("documents"), {"original_filename": "a", "byte_size": 1}),
                               ("GET", "/users/%s" % u.id, None), ("POST", "/users/%s/tokens" % u.id, None),
                               ("PATCH", "/users/%s" % u.id, {"display_name": "x"}),
                               ("GET", "/v1/tests/sessions/%s" % sess["id"], None),
                               ("POST", "/v1/tests/sessions", {"building_id": ZERO_UUID}),
                               ("GET", "/metrics", None), ("GET", "/users", None)):
        r = u.c.request(method, path, json_body=body) if body is not None else u.c.request(method, path)
        assert_error(r, 403)
    assert ws.list("documents", client=api.admin)["items"] == []
    # a token minted for an inactive user is no way around it
    tok = api.admin.post("/users/%s/tokens" % u.id)
    if tok.status == 201:
        assert_error(api.client(tok.json["token"]).get("/me"), 403)
    # reactivated: back in
    assert api.admin.patch("/users/%s" % u.id, {"is_active": True}).status == 200
    assert u.c.get("/me").status == 200


def test_inactive_user_hidden_from_nothing_for_admin(api):
    u = api.user()
    api.admin.patch("/users/%s" % u.id, {"is_active": False})
    r = api.admin.get("/users", params={"q": u.email, "is_active": "false"})
    assert [it["user_id"] for it in r.json["items"]] == [u.id]


# ---- workspaces & membership ---------------------------------------------------------------


def test_creator_becomes_member_and_sees_workspace(api, user):
    r = user.c.post("/workspaces", {"name": "mine"})
    assert r.status == 201, r
    w = r.json
    assert w["created_by_user_id"] == user.id
    ids = [it["workspace_id"] for it in user.c.get("/workspaces").json["items"]]
    assert ids == [w["workspace_id"]]
    assert user.c.get("/workspaces/%s" % w["workspace_id"]).status == 200


def test_workspace_list_own_vs_admin(api):
    a, b = api.user(), api.user()
    wa = api.workspace(a)
    wb = api.workspace(b)
    assert [w["workspace_id"] for w in a.c.get("/workspaces").json["items"]] == [wa.id]
    assert [w["workspace_id"] for w in b.c.get("/workspaces").json["items"]] == [wb.id]
    total = api.admin.get("/workspaces", params={"include_total": "true"}).json["total"]
    assert total >= 2
    r = api.admin.get("/workspaces", params={"q": wa.obj["name"]})
    assert [w["workspace_id"] for w in r.json["items"]] == [wa.id]
    r = api.admin.get("/workspaces", params={"q": wb.obj["name"]})
    assert [w["workspace_id"] for w in r.json["items"]] == [wb.id]


def test_non_member_gets_404_on_everything_under_workspace(api, ws):
    doc = ws.doc()
    cfg = ws.config()
    job = ws.job()
    stranger = api.user()
    c = stranger.c
    d, g, j = doc["document_id"], cfg["config_id"], job["job_id"]
    cases = [
        ("GET", ws.base, None), ("PATCH", ws.base, {"name": "stolen"}), ("HEAD", ws.base, None),
        ("POST", ws.base + "/members", {"user_id": stranger.id}),
        ("GET", ws.path("documents"), None), ("POST", ws.path("documents"), {"original_filename": "a", "byte_size": 1}),
        ("GET", ws.path("documents", d), None), ("PATCH", ws.path("documents", d), {"byte_size": 9}),
        ("DELETE", ws.path("documents", d), None),
        ("GET", ws.path("configs"), None), ("POST", ws.path("configs"), {"slug": "s", "title": "t"}),
        ("GET", ws.path("configs", g), None), ("PATCH", ws.path("configs", g), {"title": "x"}),
        ("DELETE", ws.path("configs", g), None),
        ("GET", ws.path("jobs"), None), ("POST", ws.path("jobs"), {"config_id": g}),
        ("GET", ws.path("jobs", j), None), ("PATCH", ws.path("jobs", j), {"status": "failed"}),
        ("GET", ws.path("documents"), None),
    ]
    for method, path, body in cases:
        r = c.request(method, path, json_body=body) if body is not None else c.request(method, path)
        assert r.status == 404, (method, path, r)
        if method != "HEAD":
            assert_error(r, 404)
    # nothing changed
    assert ws.c.get(ws.base).json["name"] == ws.obj["name"]
    assert ws.c.get(ws.path("documents", d)).json["byte_size"] == doc["byte_size"]
    assert ws.c.get(ws.path("configs", g)).status == 200
    assert len(ws.list("documents")["items"]) == 1
    assert len(ws.list("configs")["items"]) == 2  # cfg and the default config of the job
    assert ws.c.get(ws.path("jobs", j)).json["status"] == job["status"]
    # not listed either
    assert ws.id not in [w["workspace_id"] for w in c.get("/workspaces").json["items"]]


def test_item_of_another_workspace_is_404(api, ws):
    doc = ws.doc()
    other = api.workspace(ws.owner)  # same owner, another workspace
    assert_error(ws.c.get(other.path("documents", doc["document_id"])), 404)
    assert_error(ws.c.patch(other.path("documents", doc["document_id"]), {"byte_size": 3}), 404)
    assert_error(ws.c.delete(other.path("documents", doc["document_id"])), 404)
    assert ws.c.get(ws.path("documents", doc["document_id"])).json["byte_size"] == 1


def test_admin_sees_everything_under_any_workspace(api, ws):
    doc = ws.doc()
    assert api.admin.get(ws.base).status == 200
    assert api.admin.get(ws.path("documents", doc["document_id"])).status == 200
    assert [d["document_id"] for d in api.admin.get(ws.path("documents")).json["items"]] == [doc["document_id"]]
    r = api.admin.post(ws.path("documents"), {"original_filename": "by-admin", "byte_size": 2})
    assert r.status == 201 and r.json["uploaded_by_user_id"] != ws.owner.id


def test_add_member(api, ws):
    newbie = api.user()
    assert_error(newbie.c.get(ws.base), 404)
    r = ws.c.post(ws.base + "/members", {"user_id": newbie.id})
    assert r.status == 201, r
    r = ws.c.post(ws.base + "/members", {"user_id": newbie.id})
    assert r.status == 200, r
    assert newbie.c.get(ws.base).status == 200
    assert [w["workspace_id"] for w in newbie.c.get("/workspaces").json["items"]] == [ws.id]
    doc = ws.doc()
    assert newbie.c.get(ws.path("documents", doc["document_id"])).status == 200
    # a member may add members, and create rows
    third = api.user()
    assert newbie.c.post(ws.base + "/members", {"user_id": third.id}).status == 201
    r = newbie.c.post(ws.path("documents"), {"original_filename": "n.txt", "byte_size": 1})
    assert r.status == 201 and r.json["uploaded_by_user_id"] == newbie.id


def test_creator_is_already_member(ws):
    r = ws.c.post(ws.base + "/members", {"user_id": ws.owner.id})
    assert r.status == 200, r


def test_admin_adds_member_without_being_one(api, ws):
    u = api.user()
    r = api.admin.post(ws.base + "/members", {"user_id": u.id})
    assert r.status == 201, r
    assert u.c.get(ws.base).status == 200


@pytest.mark.parametrize("body,field", [({"user_id": ZERO_UUID}, "user_id"), ({"user_id": "nope"}, "user_id"),
                                        ({}, "user_id"), ({"user_id": None}, "user_id"), ({"user_id": 5}, "user_id"),
                                        ({"user_id": "@", "extra": 1}, None)])
def test_add_member_bad_bodies_are_422(ws, body, field):
    r = ws.c.post(ws.base + "/members", body)
    assert_422(r, "body", field)


def test_add_member_unknown_field_422(api, ws):
    u = api.user()
    r = ws.c.post(ws.base + "/members", {"user_id": u.id, "role": "owner"})
    assert_422(r, "body", "role")
    assert_error(u.c.get(ws.base), 404)


def test_add_member_to_unknown_workspace_is_404(api, user):
    assert_error(user.c.post("/workspaces/%s/members" % ZERO_UUID, {"user_id": user.id}), 404)


def test_workspace_patch_by_member(api, ws):
    r = ws.c.patch(ws.base, {"name": "renamed"})
    assert r.status == 200 and r.json["name"] == "renamed", r
    assert ws.c.get(ws.base).json["name"] == "renamed"


# ---- metrics -----------------------------------------------------------------------------------


SAMPLE_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)( -?\d+)?$")


def test_metrics_prometheus_text(user):
    user.c.get("/me")
    r = user.c.get("/metrics")
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/plain"), r.header("Content-Type")
    lines = [ln for ln in r.text.splitlines() if ln.strip()]
    assert lines
    samples = [ln for ln in lines if not ln.startswith("#")]
    assert samples, r.text[:500]
    for ln in lines:
        if ln.startswith("#"):
            assert ln.startswith("# HELP ") or ln.startswith("# TYPE "), ln
        else:
            assert SAMPLE_RE.match(ln), ln


def test_metrics_needs_token(anon):
    r = anon.get("/metrics")
    assert_error(r, 401)
    assert r.header("WWW-Authenticate").startswith("Bearer")


# ---- test sessions are private to their creator --------------------------------------------


def test_sessions_private_to_creator(api, user):
    mine = api.session(user.c, notes="mine")
    other = api.user()
    p = "/v1/tests/sessions/%s" % mine["id"]
    assert_error(other.c.get(p), 404)
    assert_error(other.c.patch(p, {"notes": "theirs"}), 404)
    assert_error(other.c.put(p, {"building_id": ZERO_UUID}), 404)
    assert_error(other.c.delete(p), 404)
    r = user.c.get(p)
    assert r.status == 200 and r.json["notes"] == "mine"
    # not even an admin sees another's session
    assert_error(api.admin.get(p), 404)


def test_demoted_admin_loses_admin_rights_at_once(api):
    u = api.user(admin=True)
    assert u.c.get("/users").status == 200
    ws = api.workspace()
    assert u.c.get(ws.base).status == 200  # admins see every workspace
    assert api.admin.patch("/users/%s" % u.id, {"is_admin": False}).status == 200
    assert_error(u.c.get("/users"), 403)
    assert_error(u.c.get(ws.base), 404)
    assert_error(u.c.get("/users/%s" % ws.owner.id), 404)


def test_new_token_takes_no_body_or_an_empty_object(api, user):
    """Endpoints that take no fields accept no body and {} (what HTTP clients and Swagger UI send);
    a field is a 422 naming it."""
    for kw in ({}, {"json_body": {}}):
        r = api.admin.post("/users/%s/tokens" % user.id, **kw)
        assert r.status == 201, (kw, r)
        assert api.client(r.json["token"]).get("/me").status == 200
    assert_422(api.admin.post("/users/%s/tokens" % user.id, {"label": "x"}), "body", "label")
    assert_422(api.admin.post("/users/%s/tokens" % user.id, []), "body")
    r = api.admin.request("POST", "/users/%s/tokens" % user.id, body=b"{",
                          headers={"Content-Type": "application/json"})
    assert_422(r, "body")
