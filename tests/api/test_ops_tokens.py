"""Issue 10, CONTRACT §9 — tokens an operator can list and revoke:
GET /users/{id}/tokens, DELETE /users/{id}/tokens/{token_id} (a 401 at once,
on every server of the database), at most 100 per user, last_used_at,
POST with no body or {}, the CLI `firemode token list/revoke`, and a 401
that names the header's expected form."""
import datetime
import time

import pytest

from fm import UUID7_RE, Client, assert_422, assert_error

from test_cli import run_cli

ZERO_UUID = "00000000-0000-7000-8000-000000000000"


def tokens_path(uid, tid=None):
    return "/users/%s/tokens" % uid + ("/%s" % tid if tid else "")


def parse_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def mint(client, uid):
    r = client.post(tokens_path(uid))
    assert r.status == 201, r
    return r.json


def test_list_tokens_newest_first_without_secrets(api, user):
    t1 = mint(api.admin, user.id)
    t2 = mint(user.c, user.id)
    for c in (api.admin, user.c):
        r = c.get(tokens_path(user.id))
        assert r.status == 200, r
        items = r.json["items"]
        assert set(r.json) == {"items"}
        ids = [it["token_id"] for it in items]
        assert ids[:2] == [t2["token_id"], t1["token_id"]], ids
        assert len(items) == 3  # and the fixture's own token
        for it in items:
            assert set(it) == {"token_id", "created_at", "last_used_at"}, it
            parse_ts(it["created_at"])
        created = [it["created_at"] for it in items]
        assert created == sorted(created, reverse=True)
        for secret in (t1["token"], t2["token"], user.token):
            assert secret not in r.text


def test_list_tokens_of_others_is_404(api, user):
    other = api.user()
    assert_error(user.c.get(tokens_path(other.id)), 404)
    assert_error(api.admin.get(tokens_path(ZERO_UUID)), 404)
    assert_error(user.c.get(tokens_path("not-a-uuid")), 404)


def test_revoke_token_is_401_at_once(api, user):
    t = mint(user.c, user.id)
    c = api.client(t["token"])
    assert c.get("/me").status == 200
    r = user.c.delete(tokens_path(user.id, t["token_id"]))
    assert r.status == 204 and r.body == b"", r
    r = c.get("/me")
    assert_error(r, 401)
    assert r.header("WWW-Authenticate").startswith("Bearer")
    assert t["token_id"] not in [it["token_id"] for it in user.c.get(tokens_path(user.id)).json["items"]]
    # again: it is gone
    assert_error(user.c.delete(tokens_path(user.id, t["token_id"])), 404)
    assert user.c.get("/me").status == 200  # the user's other tokens still work


def test_revoke_rules(api, user):
    other = api.user()
    t = mint(api.admin, other.id)
    # not yours: 404, and nothing happens
    assert_error(user.c.delete(tokens_path(other.id, t["token_id"])), 404)
    # a token of another user under your own path: 404
    assert_error(user.c.delete(tokens_path(user.id, t["token_id"])), 404)
    assert api.client(t["token"]).get("/me").status == 200
    assert_error(user.c.delete(tokens_path(user.id, ZERO_UUID)), 404)
    assert_error(user.c.delete(tokens_path(user.id, "nope")), 404)
    # an admin revokes anyone's
    assert api.admin.delete(tokens_path(other.id, t["token_id"])).status == 204
    assert_error(api.client(t["token"]).get("/me"), 401)
    # a user may revoke the very token it calls with
    own = mint(user.c, user.id)
    oc = api.client(own["token"])
    assert oc.delete(tokens_path(user.id, own["token_id"])).status == 204
    assert_error(oc.get("/me"), 401)


def test_revoked_on_every_server_of_the_database(api, server, spawn, user):
    other_server = spawn(db_url=server.db_url, node_id="test-b")
    t = mint(user.c, user.id)
    c_a, c_b = Client(server.port, t["token"]), Client(other_server.port, t["token"])
    assert c_a.get("/me").status == 200 and c_b.get("/me").status == 200
    assert user.c.delete(tokens_path(user.id, t["token_id"])).status == 204  # through server A
    assert_error(c_b.get("/me"), 401)  # server B at once
    assert_error(c_a.get("/me"), 401)


def test_at_most_100_tokens(api):
    u = api.user()  # holds one
    n = len(u.c.get(tokens_path(u.id)).json["items"])
    for _ in range(100 - n):
        assert u.c.post(tokens_path(u.id)).status == 201
    r = u.c.post(tokens_path(u.id))
    detail = assert_error(r, 409)
    assert "100" in detail, detail
    assert_error(api.admin.post(tokens_path(u.id)), 409)  # admins too
    items = u.c.get(tokens_path(u.id)).json["items"]
    assert len(items) == 100
    # revoking one makes room for one
    assert u.c.delete(tokens_path(u.id, items[0]["token_id"])).status == 204  # not its own (the oldest)
    assert u.c.post(tokens_path(u.id)).status == 201
    assert_error(u.c.post(tokens_path(u.id)), 409)


def test_last_used_at(api, user):
    t = mint(api.admin, user.id)

    def entry():
        items = api.admin.get(tokens_path(user.id)).json["items"]
        return [it for it in items if it["token_id"] == t["token_id"]][0]

    assert entry()["last_used_at"] is None
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    assert api.client(t["token"]).get("/me").status == 200
    used = entry()["last_used_at"]
    assert used is not None and parse_ts(used) >= before, used
    # coarse on purpose: within the minute it is not rewritten
    time.sleep(0.05)
    assert api.client(t["token"]).get("/me").status == 200
    assert entry()["last_used_at"] == used


@pytest.mark.parametrize("body", [None, b"", b"{}", b"  { }  "])
def test_new_token_takes_no_body_or_empty_object(api, user, body):
    if body is None:
        r = user.c.request("POST", tokens_path(user.id))
    else:
        r = user.c.request("POST", tokens_path(user.id), body=body, headers={"Content-Type": "application/json"})
    assert r.status == 201, r
    assert UUID7_RE.match(r.json["token_id"])


@pytest.mark.parametrize("body,field", [({"name": "ci"}, "name"), ({"expires_at": None}, "expires_at")])
def test_new_token_body_with_a_field_is_422_naming_it(user, body, field):
    r = user.c.post(tokens_path(user.id), body)
    assert_422(r, "body", field)


@pytest.mark.parametrize("body", [b"[]", b"null", b"\"x\"", b"{", b"{}{}"])
def test_new_token_body_not_an_object_is_422(user, body):
    r = user.c.request("POST", tokens_path(user.id), body=body, headers={"Content-Type": "application/json"})
    assert_422(r, "body")


# ---- the CLI ---------------------------------------------------------------------------------


def test_cli_token_list_and_revoke(api, server, user):
    t = mint(user.c, user.id)
    api.client(t["token"]).get("/me")
    r = run_cli(["token", "list", user.email.upper(), "--db", server.db_url])
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()
    lines = out.strip().splitlines()
    assert lines[0].split()[0] == t["token_id"], out  # newest first
    fields = lines[0].split()
    assert len(fields) == 3 and fields[2] != "-", out  # used just now
    parse_ts(fields[1])
    assert t["token"] not in out and user.token not in out
    r = run_cli(["token", "revoke", t["token_id"], "--db", server.db_url])
    assert r.returncode == 0, r.stderr.decode()
    assert_error(api.client(t["token"]).get("/me"), 401)
    r = run_cli(["token", "revoke", t["token_id"], "--db", server.db_url])
    assert r.returncode == 1 and t["token_id"] in r.stderr.decode()


def test_cli_token_errors(server):
    r = run_cli(["token", "list", "nobody-%d@example.com" % time.time_ns(), "--db", server.db_url])
    assert r.returncode == 1 and "no user" in r.stderr.decode()
    r = run_cli(["token", "revoke", "not-a-uuid", "--db", server.db_url])
    assert r.returncode == 2
    r = run_cli(["token", "frob", "--db", server.db_url])
    assert r.returncode == 2 and "usage" in r.stderr.decode()


# ---- 401s that name the fix ------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["change-me", "Token abc", "Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer ", None])
def test_401_names_the_expected_header(anon, auth):
    r = anon.get("/me", headers={"Authorization": auth} if auth is not None else {})
    detail = assert_error(r, 401)
    assert 'expected "Authorization: Bearer <token>"' in detail, detail


def test_401_unknown_token_says_so(anon):
    detail = assert_error(anon.get("/me", token="nope-" + str(time.time_ns())), 401)
    assert "token" in detail.lower()
